// Xen-domain benchmarks, the numbers bench-live gives for QEMU guests: MB/s
// of large physical reads (first with the pages being mapped, then mapped),
// random 4 KiB page reads per second, the pause+resume round trip, and the
// paused window of a vmi-ps walk. Run in dom0 (tests/xen/test_xen_backend.py
// runs it in its nested Xen host's dom0).
//
//   bench-xen DOMAIN KALLSYMS VMLINUZ
#include <algorithm>
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
    if (argc != 4) {
        std::fprintf(stderr, "usage: bench-xen DOMAIN KALLSYMS VMLINUZ\n");
        return 2;
    }
    vmi::GuestOptions options;
    options.vm = argv[1];
    options.backend = "xen";
    options.sysmap = argv[2];
    options.btf = argv[3];
    volatile std::uint64_t sink = 0;

    std::optional<vmi::Guest> guest;
    double attach = seconds([&] { guest.emplace(options); });
    vmi::MemorySource& memory = guest->memory();
    vmi::PhysicalRange ram = vmi_bench::largest_ram_range(memory);
    std::vector<std::uint8_t> big(std::min<std::uint64_t>(64 << 20, ram.size));
    double bulk = 0, bulk_again = 0, paged = 0;
    std::vector<std::uint64_t> pages = vmi_bench::random_pages(ram, 20000);
    {
        // Paused, like the tools read: mappings live for one pause. No time limit:
        // these reads take seconds in a nested dom0, and the bench measures them.
        vmi::ScopedPause pause(memory, true, vmi_bench::kUnlimitedPause);
        bulk = seconds([&] { memory.read(ram.start, big); });
        bulk_again = seconds([&] { memory.read(ram.start, big); });
        paged = vmi_bench::read_pages(memory, pages, sink);
    }
    std::vector<double> round_trips;
    for (int i = 0; i < 20; ++i) round_trips.push_back(seconds([&] { vmi::ScopedPause p(memory, true); }));
    std::sort(round_trips.begin(), round_trips.end());

    vmi::LinuxKernel& linux_kernel = guest->kernel();
    linux_kernel.attach();
    vmi_bench::PausedWalk walk = vmi_bench::paused_walk(memory, linux_kernel);
    std::printf("xen attach %.1f ms; bulk read %zu MiB at %.0f MB/s (mapped: %.0f MB/s); %.0f random 4 KiB pages/s; "
                "pause+resume median %.2f ms (min %.2f, max %.2f); vmi-ps walk of %zu processes %.2f ms, paused "
                "window %.2f ms\n",
                attach * 1e3, big.size() >> 20, big.size() / bulk / 1e6, big.size() / bulk_again / 1e6,
                pages.size() / paged, round_trips[round_trips.size() / 2] * 1e3, round_trips.front() * 1e3,
                round_trips.back() * 1e3, walk.processes, walk.walk * 1e3, walk.window * 1e3);
    return sink == 42 ? 1 : 0;
} catch (const vmi::Error& e) {
    std::fprintf(stderr, "bench-xen: %s\n", e.what());
    return 2;
}
