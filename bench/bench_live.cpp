// Live-guest benchmarks over each RAM path (memfd mapping, process_vm_readv,
// QEMU monitor): MB/s of large physical reads, 4 KiB page reads per second,
// pause+resume round trip, and the paused window of a vmi-ps walk.
//
//   bench-live --qmp SOCKET  GUEST_DIR
//   bench-live DOMAIN        GUEST_DIR      (libvirt, qemu:///system)
//
// GUEST_DIR holds the guest's kallsyms and vmlinuz (tests/guests/build-guests.sh).
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "LiveMemoryBench.hpp"
#include "common/Guest.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/ScopedPause.hpp"

using vmi_bench::seconds;

int main(int argc, char** argv)
try {
    std::vector<std::string> args(argv + 1, argv + argc);
    vmi::GuestOptions base;
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
        vmi::GuestOptions options = base;
        options.access = access;
        double attach = 0;
        std::optional<vmi::Guest> guest;
        try {
            attach = seconds([&] { guest.emplace(options); });
        } catch (const vmi::Error& e) {
            std::printf("%-8s not usable here: %s\n", access, e.what());
            continue;
        }
        vmi::MemorySource& memory = guest->memory();
        vmi::PhysicalRange ram = vmi_bench::largest_ram_range(memory);
        bool slow = std::string(access) == "monitor";
        std::vector<std::uint8_t> big((slow ? 4 : 256) << 20);
        big.resize(std::min<std::uint64_t>(big.size(), ram.size));
        double bulk = seconds([&] { memory.read(ram.start, big); });
        double bulk_again = seconds([&] { memory.read(ram.start, big); }); // mappings now in place

        std::vector<std::uint64_t> pages = vmi_bench::random_pages(ram, slow ? 500 : 20000);
        double paged = vmi_bench::read_pages(memory, pages, sink);

        double pause = seconds([&] { vmi::ScopedPause p(memory, true); });
        vmi::LinuxKernel& linux_kernel = guest->kernel();
        linux_kernel.attach();
        vmi_bench::PausedWalk walk = vmi_bench::paused_walk(memory, linux_kernel);
        std::printf(
            "%-8s attach %.1f ms; bulk read %zu MiB at %.0f MB/s (again: %.0f MB/s); %.0f random 4 KiB pages/s; "
            "pause+resume %.2f ms; vmi-ps walk of %zu processes %.2f ms, paused window %.2f ms\n",
            access, attach * 1e3, big.size() >> 20, big.size() / bulk / 1e6, big.size() / bulk_again / 1e6,
            pages.size() / paged, pause * 1e3, walk.processes, walk.walk * 1e3, walk.window * 1e3);
    }
    return sink == 42 ? 1 : 0;
} catch (const vmi::Error& e) {
    std::fprintf(stderr, "bench-live: %s\n", e.what());
    return 2;
}
