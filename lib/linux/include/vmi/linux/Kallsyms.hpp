#pragma once
// The guest kernel's own symbol table, found and decoded in guest-physical
// memory: no copy of /proc/kallsyms or System.map needed. Any kernel built
// with CONFIG_KALLSYMS has it; with KALLSYMS_ALL it holds data symbols too
// (Debian's amd64 kernels), without it text symbols only (Debian's i386 ones).
//
// scripts/kallsyms.c writes the tables into the kernel's .rodata, each table
// aligned to the pointer size (to 4 bytes from 7.0), in an order that changed:
//   6.1 - 6.3   offsets, relative_base, num_syms, names, markers, seqs_of_names, token_table, token_index
//   6.4 - 6.x   num_syms, names, markers, token_table, token_index, offsets, relative_base, seqs_of_names
//   7.x         num_syms, names, markers, token_table, token_index, offsets, seqs_of_names
// seqs_of_names (3-byte big-endian indices in name order) came with 6.2 and
// was backported to Debian's 6.1. A name is a 1- or 2-byte ULEB128 length and
// that many token codes; its expansion starts with the type letter. The
// address of symbol i is kept as an s32 offset, decoded as KallsymsEncoding
// says. Verified on 6.1 (amd64, i386), 6.12 and 7.2 guests: see
// tests/real/test_kallsyms_memory.py.
//
// Everything here reads guest memory that a compromised guest controls:
// every size is capped, every table validated before it is believed, and a
// table that stops validating while decoding is an error, never a crash.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/memory/MemorySource.hpp"
#include "vmi/symbols/SymbolTable.hpp"

namespace vmi {

namespace kallsyms_detail {
class KallsymsTables;
}

// How kallsyms_offsets[] (or kallsyms_addresses[]) hold the addresses.
enum class KallsymsEncoding {
    // The addresses themselves: kallsyms_addresses[] (pointer-sized, kernels
    // without KALLSYMS_BASE_RELATIVE), or 7.x's u32 values on non-relocatable
    // 32-bit kernels.
    Absolute,
    // u32 offsets from kallsyms_relative_base (KALLSYMS_BASE_RELATIVE).
    Relative,
    // KALLSYMS_ABSOLUTE_PERCPU (x86-64 SMP until 6.14): an s32 >= 0 is an
    // absolute value (a per-CPU offset, type 'A'), one < 0 means
    // relative_base - 1 - offset.
    AbsolutePercpu,
    // 7.0 and later on 64-bit and relocatable kernels: an s32 relative to the
    // entry's own address (kallsyms_relative_base is gone).
    PlaceRelative,
};

const char* to_string(KallsymsEncoding encoding);

// Where one set of kallsyms tables lies in guest-physical memory, and how to
// read it. Plain data: copyable, comparable, cheap to keep.
struct KallsymsLocation {
    unsigned pointer_size = 8; // 8 (x86-64) or 4 (i386)
    unsigned alignment = 8;    // every table starts aligned to this: the pointer size until 6.x, 4 from 7.0
    std::uint32_t count = 0;   // kallsyms_num_syms
    std::uint64_t num_syms_pa = 0;
    std::uint64_t names_pa = 0;
    std::uint64_t names_size = 0; // bytes of compressed names
    std::uint64_t markers_pa = 0; // u32 offset into names of every 256th name
    std::uint64_t token_table_pa = 0;
    std::uint32_t token_table_size = 0; // the 256 NUL-terminated tokens
    std::uint64_t token_index_pa = 0;   // 256 u16 offsets into the token table
    KallsymsEncoding encoding = KallsymsEncoding::Relative;
    std::uint64_t addresses_pa = 0; // kallsyms_offsets or kallsyms_addresses
    unsigned address_size = 4;      // bytes per entry there
    std::optional<std::uint64_t> relative_base_pa;
    std::uint64_t relative_base = 0; // its value: a runtime address (KASLR slide included)
    std::optional<std::uint64_t> seqs_of_names_pa;
    // Virtual minus physical address (modulo 2^64) of the kernel image that
    // holds the tables, when found: by the image's self-pointing data (empty
    // list heads) and linux_banner. PlaceRelative addresses need it; for
    // the others it is a bonus: kernel image VA = PA + this, no page tables.
    std::optional<std::uint64_t> image_va_minus_pa;
    // The tables lie inside the image they describe (checked when the image's
    // placement is known): a copy elsewhere (a forged one, a vmlinux in the
    // page cache) does not.
    bool inside_image = false;
    // A stable 64-bit hash of num_syms, the token table and the token index
    // (FNV-1a, in that order): identifies a kernel build, not a boot. A cache
    // keyed by it still needs the boot's relative_base / image_va_minus_pa.
    std::uint64_t fingerprint = 0;

    // "kallsyms at 0x...: 94101 symbols, 6.1 layout, absolute-percpu offsets, ..." for --verbose.
    std::string describe() const;
    bool operator==(const KallsymsLocation&) const = default;
};

struct KallsymsSearch {
    // Only tables of this pointer size (4 or 8); default: either.
    std::optional<unsigned> pointer_size;
    // The kernel image's virtual minus physical address when the caller
    // knows it (from the page tables): used instead of finding it.
    std::optional<std::uint64_t> image_va_minus_pa;
    // Stop at the first tables found inside their image (in physical address
    // order) instead of scanning all RAM: the kernel often sits low (16 MiB
    // without KASLR), which makes this a fraction of a full scan. The full
    // scan also reports copies elsewhere.
    bool first_only = false;
    // With first_only: stop at the first tables whose image could not be
    // placed at all too (tables of text symbols only have no linux_banner to
    // place them by: Debian's i386 kernels), instead of scanning on to the
    // end of RAM for tables that are. Tables placed outside their image
    // (a copy) never end the search.
    bool accept_unplaced = false;
};

// Every set of kallsyms tables in guest RAM that validates, best first: inside
// the image it describes, then the most symbols. Empty when there is none.
// One pass over RAM in 4 MiB reads (memmem for an anchor in the token
// table), then a bounded walk back from each token table it finds. A
// location found once can be checked again cheaply (a running guest's tables
// do not move): KallsymsReader validates it.
std::vector<KallsymsLocation> find_kallsyms(MemorySource& memory, const KallsymsSearch& search = {});

// One symbol of the tables.
struct KallsymsSymbol {
    std::uint64_t address = 0; // runtime address, as /proc/kallsyms shows it to root
    char type = '?';
    std::uint32_t index = 0; // position in the tables (address order)
};

// The tables of one location read into memory once (names, markers, tokens,
// offsets, seqs_of_names: a few MiB), for lookups and decoding. Throws
// vmi::Error when they do not validate (any more: a live guest may change).
class KallsymsReader {
public:
    KallsymsReader(MemorySource& memory, const KallsymsLocation& location);
    ~KallsymsReader();
    KallsymsReader(KallsymsReader&&) noexcept;
    KallsymsReader& operator=(KallsymsReader&&) noexcept;

    const KallsymsLocation& location() const;
    std::uint32_t size() const;

    // The first symbol of that name (lowest address), as SymbolTable::find.
    // A name found costs a binary search over seqs_of_names (a few dozen name
    // expansions); a name not found, or a kernel without seqs_of_names, one
    // pass over all names (a guest can reorder seqs_of_names: a miss there
    // proves nothing).
    std::optional<KallsymsSymbol> lookup(std::string_view name) const;
    // Several names: at most one pass over all names for all the misses.
    std::vector<std::optional<KallsymsSymbol>> lookup(std::span<const std::string_view> names) const;

    // Symbol `index`'s name without its type letter.
    std::string name(std::uint32_t index) const;
    KallsymsSymbol symbol(std::uint32_t index) const;

    // Every symbol, in the tables' order (by address), module fields empty.
    SymbolTable table(const std::string& origin) const;

private:
    std::unique_ptr<kallsyms_detail::KallsymsTables> tables_;
};

// Conveniences over KallsymsReader.
SymbolTable decode_kallsyms(MemorySource& memory, const KallsymsLocation& location, const std::string& origin);
std::optional<KallsymsSymbol> kallsyms_lookup(MemorySource& memory, const KallsymsLocation& location,
                                              std::string_view name);
std::vector<std::optional<KallsymsSymbol>> kallsyms_lookup(MemorySource& memory, const KallsymsLocation& location,
                                                           std::span<const std::string_view> names);

} // namespace vmi
