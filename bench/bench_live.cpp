// Live-guest benchmarks over each RAM path (memfd mapping, process_vm_readv,
// QEMU monitor): MB/s of large physical reads, 4 KiB page reads per second,
// pause+resume round trip, and the paused window of a vmi-ps walk.
//
//   bench-live --qmp SOCKET  GUEST_DIR
//   bench-live DOMAIN        GUEST_DIR      (libvirt, qemu:///system)
//
// GUEST_DIR holds the guest's kallsyms and vmlinuz (tests/guests/build-guests.sh).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "vmi/Error.hpp"
#include "vmi/LinuxKernel.hpp"
#include "vmi/ScopedPause.hpp"
#include "vmi/Session.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds(const std::function<void()>& body)
{
    auto start = Clock::now();
    body();
    return std::chrono::duration<double>(Clock::now() - start).count();
}

} // namespace

int main(int argc, char** argv)
try {
    std::vector<std::string> args(argv + 1, argv + argc);
    vmi::SessionOptions base;
    if (args.size() == 3 && args[0] == "--qmp") {
        base.qmp = args[1];
        args.erase(args.begin(), args.begin() + 2);
    } else if (args.size() == 2) {
        base.vm = args[0];
        base.backend = "kvm";
        args.erase(args.begin());
    } else {
        std::fprintf(stderr, "usage: bench-live (--qmp SOCKET | DOMAIN) GUEST_DIR\n");
        return 2;
    }
    base.sysmap = args[0] + "/kallsyms";
    base.btf = args[0] + "/vmlinuz";
    volatile std::uint64_t sink = 0;

    for (const char* access : {"memfd", "process", "monitor"}) {
        vmi::SessionOptions options = base;
        options.access = access;
        double attach = 0;
        std::optional<vmi::Session> session;
        try {
            attach = seconds([&] { session.emplace(vmi::Session::open(options)); });
        } catch (const vmi::Error& e) {
            std::printf("%-8s not usable here: %s\n", access, e.what());
            continue;
        }
        vmi::PhysicalMemory& memory = session->memory();
        // The largest RAM range, from 1 MiB on (low memory is split by ROMs).
        vmi::PhysicalRange ram = *std::max_element(memory.ranges().begin(), memory.ranges().end(),
                                                   [](const auto& a, const auto& b) { return a.size < b.size; });
        bool slow = std::string(access) == "monitor";
        std::vector<std::uint8_t> big((slow ? 4 : 256) << 20);
        big.resize(std::min<std::uint64_t>(big.size(), ram.size));
        double bulk = seconds([&] { memory.read(ram.start, big); });
        double bulk_again = seconds([&] { memory.read(ram.start, big); }); // mappings now in place

        std::vector<std::uint64_t> pages;
        std::mt19937_64 random(42);
        for (int i = 0; i < (slow ? 500 : 20000); ++i) pages.push_back(ram.start + (random() % (ram.size / 4096)) * 4096);
        std::vector<std::uint8_t> page(4096);
        double paged = seconds([&] {
            for (std::uint64_t address : pages) {
                memory.read(address, page);
                sink = sink + page[0];
            }
        });

        double pause = seconds([&] { vmi::ScopedPause p(memory, true); });
        vmi::LinuxKernel linux_kernel(*session);
        std::size_t processes = 0;
        double walk = 0;
        double window = seconds([&] {
            vmi::ScopedPause p(memory, true);
            walk = seconds([&] { processes = linux_kernel.tasks({}).tasks.size(); });
        });
        std::printf("%-8s attach %.1f ms; bulk read %zu MiB at %.0f MB/s (again: %.0f MB/s); %.0f random 4 KiB pages/s; "
                    "pause+resume %.2f ms; vmi-ps walk of %zu processes %.2f ms, paused window %.2f ms\n",
                    access, attach * 1e3, big.size() >> 20, big.size() / bulk / 1e6, big.size() / bulk_again / 1e6, pages.size() / paged, pause * 1e3,
                    processes, walk * 1e3, window * 1e3);
    }
    return sink == 42 ? 1 : 0;
} catch (const vmi::Error& e) {
    std::fprintf(stderr, "bench-live: %s\n", e.what());
    return 2;
}
