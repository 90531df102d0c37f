// Core benchmarks on a real guest dump: page-walk translations per second
// (cold and warm translation cache), bytes per second of large virtual reads,
// symbol loading, and attach (open + symbols + finding the kernel).
//
//   bench-core GUEST_DIR [SYSMAP]
//
// GUEST_DIR is a directory made by tests/guests/build-guests.sh.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <vector>

#include "common/Guest.hpp"
#include "vmi/memory/DumpFile.hpp"
#include "vmi/paging/AddressSpace.hpp"
#include "vmi/symbols/SymbolTable.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Median of `runs` timings of `body`, in seconds.
double median_seconds(int runs, const std::function<void()>& body)
{
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
        auto start = Clock::now();
        body();
        times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

std::string slurp(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench-core GUEST_DIR [SYSMAP]\n");
        return 2;
    }
    std::string dir = argv[1];
    std::string sysmap = argc > 2 ? argv[2] : dir + "/kallsyms";
    volatile std::uint64_t sink = 0;

    // Symbol loading: parse the whole file (as a tool does on every run).
    std::string text = slurp(sysmap);
    std::size_t lines = std::count(text.begin(), text.end(), '\n');
    double load = median_seconds(20, [&] { sink = sink + vmi::SymbolTable::parse(text, sysmap).size(); });
    std::printf("symbols: %zu lines parsed in %.1f ms (median of 20, file in page cache)\n", lines, load * 1e3);

    // Attach: open the dump, load symbols, find the kernel page tables and slide.
    for (const char* kind : {"elf", "raw"}) {
        vmi::GuestOptions options;
        options.image = dir + "/memory." + kind;
        options.sysmap = sysmap;
        double attach = median_seconds(10, [&] {
            vmi::Guest guest(options);
            sink = sink + guest.kernel().kernel_space().dtb();
        });
        std::printf("attach (%s): open + symbols + kernel located in %.1f ms (median of 10)\n", kind, attach * 1e3);
    }

    vmi::GuestOptions options;
    options.image = dir + "/memory.elf";
    options.sysmap = sysmap;
    vmi::Guest guest(options);
    vmi::AddressSpace& kernel = guest.kernel().kernel_space();
    const vmi::SymbolTable& symbols = guest.kernel().symbols();

    // Translations: every 4 KiB page of the kernel image, in random order.
    std::uint64_t start = symbols.require("_stext").address & ~0xfffULL;
    std::uint64_t end = symbols.require("_end").address;
    std::vector<std::uint64_t> pages;
    for (std::uint64_t va = start; va < end; va += 4096)
        if (kernel.try_translate(va).ok) pages.push_back(va);
    std::shuffle(pages.begin(), pages.end(), std::mt19937_64(42));
    vmi::AddressSpace cold(guest.memory(), kernel.mode(), kernel.dtb());
    double cold_time = median_seconds(5, [&] {
        for (std::uint64_t va : pages) {
            cold.clear_cache();
            sink = sink + cold.translate(va);
        }
    });
    double warm_time = median_seconds(5, [&] {
        for (std::uint64_t va : pages) sink = sink + kernel.translate(va);
    });
    std::printf("translations: %zu kernel pages, cold cache %.2f M/s, warm cache %.2f M/s (%s)\n", pages.size(),
                pages.size() / cold_time / 1e6, pages.size() / warm_time / 1e6,
                std::string(vmi::name(kernel.mode())).c_str());

    // Large virtual reads: the longest mapped run of the kernel image, at most 16 MiB
    // (a KPTI kernel leaves holes in it).
    std::uint64_t run_start = start, best_start = start, best_length = 0;
    for (std::uint64_t va = start; va < end; va += 4096) {
        if (!kernel.try_translate(va).ok) {
            run_start = va + 4096;
            continue;
        }
        if (va + 4096 - run_start > best_length) best_start = run_start, best_length = va + 4096 - run_start;
    }
    std::vector<std::uint8_t> big(std::min<std::uint64_t>(best_length, 16 << 20));
    double read_time = median_seconds(5, [&] { kernel.read(best_start, big); });
    std::printf("virtual read: %zu MiB of the kernel image in %.1f ms = %.0f MB/s (warm cache)\n", big.size() >> 20,
                read_time * 1e3, big.size() / read_time / 1e6);
    kernel.clear_cache();
    double read_cold = median_seconds(1, [&] { kernel.read(best_start, big); });
    std::printf("virtual read: the same, cold cache, %.0f MB/s\n", big.size() / read_cold / 1e6);
    return sink == 42 ? 1 : 0;
}
