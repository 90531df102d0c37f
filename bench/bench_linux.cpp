// vmi-ps / vmi-lsmod cost on a real guest dump, split into attach and walk:
//   attach = open the dump + load symbols + find the kernel (KASLR slide, DTB)
//            + load BTF + resolve the structure layout
//   walk   = the task list (leaders; with threads) and the module list
//   check  = vmi-ps --check's views (with and without the scan of RAM),
//            vmi-lsmod --check's, and vmi-hooks's walk of every hook point
//            (symbols decoded and indexed first, as the tool does before it
//            pauses): on a live guest, the paused window
//
//   bench-linux GUEST_DIR [elf|raw]
//
// GUEST_DIR is a directory made by tests/guests/build-guests.sh; its vmlinuz
// is the BTF source (amd64). Kernels without BTF need VMI_BENCH_CONFIG and
// VMI_BENCH_VM naming a config entry with the offsets.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "common/Guest.hpp"
#include "vmi/base/Error.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median_ms(int runs, const std::function<void()>& body)
{
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
        auto start = Clock::now();
        body();
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

} // namespace

int main(int argc, char** argv)
try {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench-linux GUEST_DIR [elf|raw]\n");
        return 2;
    }
    std::string dir = argv[1];
    std::string kind = argc > 2 ? argv[2] : "elf";
    vmi::GuestOptions options;
    if (const char* config = std::getenv("VMI_BENCH_CONFIG")) {
        options.config_path = config;
        options.vm = std::getenv("VMI_BENCH_VM") ? std::getenv("VMI_BENCH_VM") : "";
    } else {
        options.btf = dir + "/vmlinuz";
    }
    options.image = dir + "/memory." + kind;
    options.sysmap = dir + "/kallsyms";
    volatile std::size_t sink = 0;
    const int runs = 15;

    double open = median_ms(runs, [&] { sink = sink + vmi::Guest(options).session().has_memory(); });
    double symbols = median_ms(runs, [&] { sink = sink + vmi::Guest(options).kernel().symbols().size(); });
    double btf = median_ms(runs, [&] { sink = sink + (vmi::Guest(options).kernel().btf() != nullptr); });
    double attach = median_ms(runs, [&] {
        vmi::Guest guest(options);
        guest.kernel().attach();
        sink = sink + guest.kernel().layout().get("linux_tasks");
    });

    vmi::Guest guest(options);
    vmi::LinuxKernel& linux_kernel = guest.kernel();
    linux_kernel.attach();
    std::size_t processes = 0, threads = 0, modules = 0;
    double walk = median_ms(runs, [&] { processes = linux_kernel.tasks({}).tasks.size(); });
    double walk_threads = median_ms(runs, [&] { threads = linux_kernel.tasks({.threads = true}).tasks.size(); });
    double walk_modules = median_ms(runs, [&] { modules = linux_kernel.modules().modules.size(); });
    double cmdlines = median_ms(runs, [&] {
        for (const vmi::LinuxTask& task : linux_kernel.tasks({}).tasks)
            sink = sink + linux_kernel.command_line(task).value_or("").size();
    });

    std::size_t checked = 0, checked_modules = 0;
    double check = median_ms(runs, [&] { checked = linux_kernel.check_tasks(std::nullopt).entries.size(); });
    double check_no_scan =
        median_ms(runs, [&] { sink = sink + linux_kernel.check_tasks(std::nullopt, false).entries.size(); });
    double check_modules = median_ms(runs, [&] { checked_modules = linux_kernel.check_modules().entries.size(); });
    linux_kernel.symbols().index_addresses();
    std::size_t hooks = 0;
    double check_hooks = median_ms(runs, [&] { hooks = linux_kernel.hooks().hooks.size(); });

    std::printf("%s (%s), medians of %d:\n", dir.c_str(), kind.c_str(), runs);
    std::printf("  attach %.1f ms in all; from scratch: open %.1f, open + symbols + kernel/KASLR search %.1f, "
                "open + BTF %.1f\n",
                attach, open, symbols, btf);
    std::printf("  walk: %zu processes %.2f ms (%.2f us each); %zu tasks with threads %.2f ms; %zu modules %.2f ms\n",
                processes, walk, walk * 1e3 / std::max<std::size_t>(processes, 1), threads, walk_threads, modules,
                walk_modules);
    std::printf("  walk + every command line (own page tables): %.2f ms\n", cmdlines);
    std::printf("  vmi-ps --check views: %zu tasks %.1f ms (without the RAM scan %.1f ms); vmi-lsmod --check: "
                "%zu modules %.1f ms\n",
                checked, check, check_no_scan, checked_modules, check_modules);
    std::printf("  vmi-hooks: %zu hook rows %.1f ms\n", hooks, check_hooks);
    return sink == 42 ? 1 : 0;
} catch (const vmi::Error& error) {
    std::fprintf(stderr, "bench-linux: %s\n", error.what());
    return 2;
}
