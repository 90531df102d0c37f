#pragma once
// What a zero-configuration run recovered about one kernel build, kept under
// the cache directory so that the next run on that build (the same guest, a
// later dump of it, or another guest booted from it) does no kallsyms scan,
// no BTF load: where the kallsyms tables lie, the few symbols the tools use
// and the resolved structure layout.
//
// An entry is keyed by the build: the kallsyms tables' fingerprint (symbol
// count, token table and index) and a hash of the banner. It is used only
// when this guest's memory holds tables of that fingerprint at the cached
// place, with the same relative base; the locator then still checks the
// kernel's page tables against the cached symbols. Entries are written whole
// (a temporary file, then rename), so two tools writing at once are safe; an
// entry that does not parse, or is not ours, is ignored and replaced.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/linux/Kallsyms.hpp"
#include "vmi/memory/MemorySource.hpp"

namespace vmi {

struct CachedSymbol {
    std::string name;
    std::uint64_t address = 0; // runtime address when the entry was written
    char type = '?';
};

struct CachedKernelBuild {
    KallsymsLocation location;
    std::vector<CachedSymbol> symbols;
    std::string layout; // LinuxLayout::serialize()
    std::string path;   // where it was read from or written to
};

// The lines this cache's entries and the given-files cache's share:
// "symbol NAME 0xADDRESS T", and a text whose every line is prefixed with a
// word ("layout ...").
std::string cached_symbol_line(const CachedSymbol& symbol);
// The symbol of a line's "NAME 0xADDRESS T" (after "symbol "); nullopt when
// it is not one we wrote.
std::optional<CachedSymbol> parse_cached_symbol(std::string_view words);
std::string prefixed_lines(std::string_view prefix, std::string_view text);

// $VMI_CACHE_DIR/kernels, else $XDG_CACHE_HOME/vmitools/kernels, else
// ~/.cache/vmitools/kernels; empty when VMI_KERNEL_CACHE=0 or no home is known.
std::string kernel_build_cache_directory();

// The entry whose tables `memory` holds where the entry says; nullopt when
// none does (or the cache is off).
std::optional<CachedKernelBuild> find_cached_kernel_build(MemorySource& memory);

// Writes `entry` under the key of its fingerprint and `banner`; returns the
// path, or nullopt when the cache is off or the write failed (a cache is
// never worth an error).
std::optional<std::string> store_kernel_build(const CachedKernelBuild& entry, std::string_view banner);

} // namespace vmi
