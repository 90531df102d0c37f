// kallsyms-dump: the kernel's own kallsyms tables, found in a memory dump and
// printed as /proc/kallsyms prints them, for tests/real/test_kallsyms_memory.py.
//
//   kallsyms-dump [--info] [--pointer-size 4|8] [--locations | --lookup NAME...] IMAGE
//
// Without --lookup: every symbol of the best tables, "ADDRESS TYPE NAME" (the
// address as wide as a pointer). With --lookup: "NAME ADDRESS TYPE" or
// "NAME -" per name, by the cheap lookup. --locations: one line of KEY=VALUE
// per location found, best first. --info: what was found and the time each
// step took (wall and CPU), on stderr. Exit 1 when no tables are found.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "vmi/base/Error.hpp"
#include "vmi/linux/Kallsyms.hpp"
#include "vmi/memory/DumpFile.hpp"

namespace {

// Wall and CPU time since a start, for --info: on a busy machine the two differ.
struct Stopwatch {
    std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
    std::clock_t cpu = std::clock();
    std::string report() const
    {
        double wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall).count();
        double cpu_ms = 1000.0 * static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC;
        char text[64];
        std::snprintf(text, sizeof text, "%.1f ms (CPU %.1f ms)", wall_ms, cpu_ms);
        return text;
    }
};

} // namespace

int main(int argc, char** argv)
try {
    bool info = false;
    bool locations = false;
    vmi::KallsymsSearch search;
    std::vector<std::string> lookups;
    std::string image;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--info") info = true;
        else if (arg == "--locations") locations = true;
        else if (arg == "--pointer-size" && i + 1 < argc) search.pointer_size = std::stoul(argv[++i]);
        else if (arg == "--lookup" && i + 1 < argc) lookups.emplace_back(argv[++i]);
        else if (!arg.starts_with("-") && image.empty()) image = arg;
        else {
            std::fprintf(stderr, "usage: kallsyms-dump [--info] [--pointer-size 4|8] [--locations | --lookup NAME...] "
                                 "IMAGE\n");
            return 2;
        }
    }
    if (image.empty()) {
        std::fprintf(stderr,
                     "usage: kallsyms-dump [--info] [--pointer-size 4|8] [--locations | --lookup NAME...] IMAGE\n");
        return 2;
    }
    std::unique_ptr<vmi::MemorySource> memory = vmi::open_image_file(image, false);
    Stopwatch watch;
    std::vector<vmi::KallsymsLocation> found = vmi::find_kallsyms(*memory, search);
    if (info) {
        std::fprintf(stderr, "find_kallsyms: %zu location(s) in %s\n", found.size(), watch.report().c_str());
        for (const vmi::KallsymsLocation& location : found) std::fprintf(stderr, "  %s\n", location.describe().c_str());
    }
    if (found.empty()) {
        std::fprintf(stderr, "kallsyms-dump: no kallsyms tables found in '%s'\n", image.c_str());
        return 1;
    }
    if (locations) {
        for (const vmi::KallsymsLocation& l : found) {
            fmt::print("token_table={:#x} count={} pointer_size={} alignment={} encoding={} num_syms={:#x} names={:#x} "
                       "markers={:#x} addresses={:#x} seqs={} inside_image={} fingerprint={:016x} "
                       "image_va_minus_pa={}\n",
                       l.token_table_pa, l.count, l.pointer_size, l.alignment, vmi::to_string(l.encoding),
                       l.num_syms_pa, l.names_pa, l.markers_pa, l.addresses_pa, l.seqs_of_names_pa ? "yes" : "no",
                       l.inside_image ? 1 : 0, l.fingerprint,
                       l.image_va_minus_pa ? fmt::format("{:#x}", *l.image_va_minus_pa) : "-");
        }
        return 0;
    }
    const vmi::KallsymsLocation& best = found.front();
    int width = static_cast<int>(best.pointer_size * 2);
    if (!lookups.empty()) {
        std::vector<std::string_view> names(lookups.begin(), lookups.end());
        watch = Stopwatch();
        std::vector<std::optional<vmi::KallsymsSymbol>> symbols = vmi::kallsyms_lookup(*memory, best, names);
        if (info) std::fprintf(stderr, "kallsyms_lookup: %zu name(s) in %s\n", names.size(), watch.report().c_str());
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (symbols[i])
                std::printf("%s %0*llx %c\n", lookups[i].c_str(), width,
                            static_cast<unsigned long long>(symbols[i]->address), symbols[i]->type);
            else std::printf("%s -\n", lookups[i].c_str());
        }
        return 0;
    }
    watch = Stopwatch();
    vmi::SymbolTable table = vmi::decode_kallsyms(*memory, best, "kallsyms in " + image);
    if (info) std::fprintf(stderr, "decode_kallsyms: %zu symbols in %s\n", table.size(), watch.report().c_str());
    for (const vmi::Symbol& symbol : table.symbols())
        std::printf("%0*llx %c %.*s\n", width, static_cast<unsigned long long>(symbol.address), symbol.type,
                    static_cast<int>(symbol.name.size()), symbol.name.data());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "kallsyms-dump: %s\n", e.what());
    return 2;
}
