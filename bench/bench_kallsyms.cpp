// The kernel's own kallsyms tables from a real guest dump: what finding them
// and decoding them costs, against loading a kallsyms copy from a file.
//
//   bench-kallsyms GUEST_DIR [elf|raw]
//
//   find        find_kallsyms over all RAM (the full scan), and with first_only
//   read        KallsymsReader: the tables read into memory and validated
//   decode      the whole table as a SymbolTable (read included)
//   lookup      the names the tools need, one batch (read included)
//   file        SymbolTable::load of the guest's kallsyms file, for comparison
//
// Medians of wall and CPU time (the machine may be shared: CPU time is what
// the work costs, wall time what a user waits), and the peak of heap memory
// (C++ allocations, counted here) each step needs. The peak RSS would mostly
// be the dump's own pages: the dump is mapped, and the scan touches all of it.
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/base/Error.hpp"
#include "vmi/linux/Kallsyms.hpp"
#include "vmi/memory/DumpFile.hpp"
#include "vmi/symbols/SymbolTable.hpp"

// Heap bytes in use and their peak, through every operator new.
namespace heap {
std::size_t in_use = 0;
std::size_t peak = 0;
} // namespace heap

void* operator new(std::size_t size)
{
    void* p = std::malloc(size ? size : 1);
    if (!p) throw std::bad_alloc();
    heap::in_use += malloc_usable_size(p);
    heap::peak = std::max(heap::peak, heap::in_use);
    return p;
}
void operator delete(void* p) noexcept
{
    if (p) heap::in_use -= malloc_usable_size(p);
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

namespace {

// Peak heap above what was in use before `body`, in MiB.
double peak_heap_mib(const std::function<void()>& body)
{
    std::size_t before = heap::in_use;
    heap::peak = before;
    body();
    return static_cast<double>(heap::peak - before) / (1 << 20);
}

struct Times {
    double wall_ms;
    double cpu_ms;
};

Times median(int runs, const std::function<void()>& body)
{
    std::vector<double> wall, cpu;
    for (int i = 0; i < runs; ++i) {
        auto start = std::chrono::steady_clock::now();
        std::clock_t cpu_start = std::clock();
        body();
        cpu.push_back(1000.0 * static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC);
        wall.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(wall.begin(), wall.end());
    std::sort(cpu.begin(), cpu.end());
    return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

void print(const char* what, Times t)
{
    std::printf("  %-34s %9.1f ms wall %9.1f ms CPU\n", what, t.wall_ms, t.cpu_ms);
}

} // namespace

int main(int argc, char** argv)
try {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench-kallsyms GUEST_DIR [elf|raw]\n");
        return 2;
    }
    std::string dir = argv[1];
    std::string kind = argc > 2 ? argv[2] : "elf";
    std::unique_ptr<vmi::MemorySource> memory = vmi::open_image_file(dir + "/memory." + kind, false);
    const int runs = 7;
    volatile std::size_t sink = 0;

    std::vector<vmi::KallsymsLocation> found = vmi::find_kallsyms(*memory); // warms the page cache
    if (found.empty()) vmi::fail("no kallsyms tables in {}", dir);
    const vmi::KallsymsLocation& best = found.front();
    std::printf("%s (%s): %s\n", dir.c_str(), kind.c_str(), best.describe().c_str());
    std::printf("medians of %d:\n", runs);
    print("find (full scan)", median(runs, [&] { sink = sink + vmi::find_kallsyms(*memory).size(); }));
    vmi::KallsymsSearch first;
    first.first_only = true;
    print("find (first_only)", median(runs, [&] { sink = sink + vmi::find_kallsyms(*memory, first).size(); }));
    print("read + validate tables", median(runs, [&] { sink = sink + vmi::KallsymsReader(*memory, best).size(); }));
    print("decode all (read included)",
          median(runs, [&] { sink = sink + vmi::decode_kallsyms(*memory, best, "bench").size(); }));
    std::vector<std::string_view> wanted = {"init_task",      "modules",     "linux_banner", "init_top_pgt",
                                            "swapper_pg_dir", "__start_BTF", "__stop_BTF",   "_text"};
    print("lookup 8 names (read included)", median(runs, [&] {
              for (const auto& hit : vmi::kallsyms_lookup(*memory, best, wanted)) sink = sink + hit.has_value();
          }));
    vmi::KallsymsReader reader(*memory, best);
    print("lookup 8 names (tables read)", median(runs, [&] {
              for (const auto& hit : reader.lookup(wanted)) sink = sink + hit.has_value();
          }));
    print("lookup init_task (tables read)", median(runs, [&] { sink = sink + reader.lookup("init_task")->address; }));
    print("file: SymbolTable::load(kallsyms)",
          median(runs, [&] { sink = sink + vmi::SymbolTable::load(dir + "/kallsyms").size(); }));
    std::printf("peak heap: find %.1f MiB, find first_only %.1f MiB, decode %.1f MiB, lookup %.1f MiB, "
                "file %.1f MiB\n",
                peak_heap_mib([&] { sink = sink + vmi::find_kallsyms(*memory).size(); }),
                peak_heap_mib([&] { sink = sink + vmi::find_kallsyms(*memory, first).size(); }),
                peak_heap_mib([&] { sink = sink + vmi::decode_kallsyms(*memory, best, "bench").size(); }),
                peak_heap_mib([&] { sink = sink + vmi::kallsyms_lookup(*memory, best, wanted).size(); }),
                peak_heap_mib([&] { sink = sink + vmi::SymbolTable::load(dir + "/kallsyms").size(); }));
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench-kallsyms: %s\n", e.what());
    return 2;
}
