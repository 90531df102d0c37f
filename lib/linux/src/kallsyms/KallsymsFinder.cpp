// find_kallsyms: where the guest kernel's kallsyms tables lie in physical RAM.
//
// 1. One pass over RAM in 256 KiB reads. The anchor is the token table: every
//    byte value that occurs in a symbol name is its own one-character token,
//    so the ten digits sit in it as "0\0" "1\0" ... "9\0" (memmem finds them
//    at memory speed). From a hit, the token table and the token index after
//    it must check out. A kernel whose names lack a digit gets a second pass
//    looking for the token index's shape instead.
// 2. From each token table, a walk back through at most 64 MiB for
//    kallsyms_num_syms: the u32 whose names (right after it) walk exactly to
//    the markers, which end just before the token table (or before
//    seqs_of_names, 6.1-6.3).
// 3. The address table, where each kernel version put it (before num_syms
//    until 6.3, after the token index since 6.4), in each encoding, until
//    one keeps the kernel's rules (sorted, relative base first, ...).
// 4. The kernel image's VA - PA: votes of self-pointing data (empty list
//    heads) for place-relative tables (7.x), linux_banner's copies (probed
//    near the tables) checked by the same votes for the others. With it, whether the tables lie inside
//    the image they describe, which ranks a stray copy below the real one.
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "kallsyms/KallsymsFormat.hpp"
#include "kallsyms/KallsymsTables.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/UnalignedLoad.hpp"
#include "vmi/linux/Kallsyms.hpp"

namespace vmi {
namespace {

using namespace kallsyms_detail;

// Chunks that stay in L2 between the copy out of the source and the search.
constexpr std::size_t SCAN_CHUNK = std::size_t{256} << 10;
constexpr std::string_view DIGIT_TOKENS{"0\0"
                                        "1\0"
                                        "2\0"
                                        "3\0"
                                        "4\0"
                                        "5\0"
                                        "6\0"
                                        "7\0"
                                        "8\0"
                                        "9\0",
                                        20};
constexpr std::string_view BANNER = "Linux version ";
constexpr std::size_t SCAN_OVERLAP = 32; // longer than the pattern
// Work bounds for hostile memory (a real guest has about ten anchor hits and
// one token table): each anchor or shape costs a few KiB of reads, each
// token table a walk back through up to MAX_NAMES_WINDOW.
constexpr std::size_t MAX_ANCHORS = 4096;
constexpr std::size_t MAX_SHAPES = 4096;
constexpr std::size_t MAX_TOKEN_TABLES = 16;
constexpr std::size_t MAX_BANNERS = 64;
constexpr std::uint64_t MAX_IMAGE_SPAN = std::uint64_t{1} << 30; // KERNEL_IMAGE_SIZE on x86-64
constexpr std::uint64_t FIRST_NAMES_WINDOW = std::uint64_t{4} << 20;
constexpr std::uint64_t MAX_NAMES_WINDOW = std::uint64_t{64} << 20;
constexpr std::size_t MAX_VOTERS = 1 << 15;
constexpr std::uint32_t MIN_VOTES = 3;
constexpr std::size_t TOKEN_PADDING = 8; // at most alignment - 1 zero bytes between tables

const PhysicalRange* range_of(MemorySource& memory, std::uint64_t pa)
{
    for (const PhysicalRange& range : memory.ranges())
        if (range.contains(pa)) return &range;
    return nullptr;
}

// [start, start + size) clipped to `range`, as read.
std::vector<std::uint8_t> read_clipped(MemorySource& memory, const PhysicalRange& range, std::uint64_t start,
                                       std::uint64_t size)
{
    start = std::max(start, range.start);
    std::uint64_t end = std::min(range.end(), start + size);
    std::vector<std::uint8_t> bytes(end > start ? end - start : 0);
    if (!bytes.empty()) memory.read(start, bytes);
    return bytes;
}

bool all_zero(const std::uint8_t* begin, const std::uint8_t* end)
{
    return std::all_of(begin, end, [](std::uint8_t b) { return b == 0; });
}

struct TokenCandidate {
    std::uint64_t table_pa = 0;
    std::uint64_t index_pa = 0;
    TokenTable tokens;
};

// The token table whose index starts at `index_pa` and whose table starts at
// `table_pa`: both 4-aligned (every kernel aligns these labels), the tokens
// valid, only zero padding between the last token and the index.
std::optional<TokenCandidate> token_tables_at(MemorySource& memory, const PhysicalRange& range, std::uint64_t table_pa,
                                              std::uint64_t index_pa)
{
    if (table_pa % 4 || index_pa % 4 || index_pa <= table_pa || index_pa - table_pa > MAX_TOKEN_TABLE + TOKEN_PADDING ||
        table_pa < range.start || index_pa + TOKEN_INDEX_BYTES > range.end())
        return std::nullopt;
    std::vector<std::uint8_t> bytes = read_clipped(memory, range, table_pa, index_pa + TOKEN_INDEX_BYTES - table_pa);
    std::span<const std::uint8_t> all(bytes);
    std::size_t table_span = index_pa - table_pa;
    std::optional<TokenTable> tokens = TokenTable::parse(all.first(table_span), all.subspan(table_span));
    if (!tokens || table_span - tokens->size() >= TOKEN_PADDING ||
        !all_zero(bytes.data() + tokens->size(), bytes.data() + table_span))
        return std::nullopt;
    return TokenCandidate{table_pa, index_pa, std::move(*tokens)};
}

// From a "0\0...9\0" hit: the digits are tokens 0x30..0x39, so the table
// starts token_index['0'] bytes before it, and the index follows the last
// token (0xff), 0xd0 strings after the hit.
std::optional<TokenCandidate> token_tables_from_digits(MemorySource& memory, const PhysicalRange& range,
                                                       std::uint64_t hit)
{
    std::vector<std::uint8_t> after = read_clipped(memory, range, hit, 8192);
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::size_t at = 0;
        int strings = 0;
        while (strings < 0xd0 && at < after.size()) {
            if (after[at] == 0) ++strings;
            else if (after[at] <= 0x20 || after[at] >= 0x7f) return std::nullopt;
            ++at;
        }
        if (strings < 0xd0) {
            if (after.size() >= MAX_TOKEN_TABLE + TOKEN_PADDING) return std::nullopt;
            after = read_clipped(memory, range, hit, MAX_TOKEN_TABLE + TOKEN_PADDING);
            continue;
        }
        std::uint64_t end = hit + at; // just past the last token's NUL
        for (std::uint64_t index_pa = align_up(end, 4); index_pa < end + TOKEN_PADDING; index_pa += 4) {
            std::vector<std::uint8_t> index = read_clipped(memory, range, index_pa, TOKEN_INDEX_BYTES);
            if (index.size() < TOKEN_INDEX_BYTES) return std::nullopt;
            std::uint64_t digit_offset = index[std::size_t{2} * '0'] | (index[std::size_t{2} * '0' + 1] << 8);
            if (digit_offset > hit) continue;
            if (auto found = token_tables_at(memory, range, hit - digit_offset, index_pa)) return found;
        }
        return std::nullopt;
    }
    return std::nullopt;
}

// The second pass: a token index by its shape (0, then offsets growing by a
// token's length + 1), the table ending just before it.
bool index_shape(const std::uint8_t* p)
{
    std::uint32_t previous = p[0] | (p[1] << 8);
    if (previous != 0) return false;
    for (int i = 1; i < 16; ++i) {
        std::uint32_t offset = p[std::size_t{2} * i] | (p[std::size_t{2} * i + 1] << 8);
        if (offset <= previous || offset - previous > 64) return false;
        previous = offset;
    }
    return true;
}

std::optional<TokenCandidate> token_tables_before(MemorySource& memory, const PhysicalRange& range,
                                                  std::uint64_t index_pa)
{
    std::uint64_t base = index_pa - std::min<std::uint64_t>(index_pa - range.start, MAX_TOKEN_TABLE + TOKEN_PADDING);
    std::vector<std::uint8_t> bytes = read_clipped(memory, range, base, index_pa + TOKEN_INDEX_BYTES - base);
    if (bytes.size() < index_pa - base + TOKEN_INDEX_BYTES) return std::nullopt;
    const std::uint8_t* index = bytes.data() + (index_pa - base);
    auto offset = [&](std::size_t k) { return std::uint64_t{index[2 * k]} | (std::uint64_t{index[2 * k + 1]} << 8); };
    // The last token (at most 255 characters: it was built from pairs) ends
    // in its NUL, then up to 7 zero bytes of padding. A start must put a NUL
    // before tokens 1, 128 and 255: few pass that to the full check.
    for (std::uint64_t extra = 0; extra < 256 + TOKEN_PADDING; ++extra) {
        std::uint64_t span = offset(255) + 1 + extra;
        if (span > index_pa - base) break;
        std::uint64_t table = index_pa - span;
        if (table % 4) continue;
        auto nul_before = [&](int k) { return bytes[table - base + offset(k) - 1] == 0; };
        if (!nul_before(1) || !nul_before(128) || !nul_before(255)) continue;
        if (auto found = token_tables_at(memory, range, table, index_pa)) return found;
    }
    return std::nullopt;
}

// Hits of `pattern` that start in the first `owned` bytes of `bytes`.
template <typename Hit>
void for_each_hit(std::span<const std::uint8_t> bytes, std::size_t owned, std::string_view pattern, Hit hit)
{
    const std::uint8_t* begin = bytes.data();
    const std::uint8_t* end = begin + bytes.size();
    for (const std::uint8_t* at = begin;
         at < end && (at = static_cast<const std::uint8_t*>(::memmem(at, end - at, pattern.data(), pattern.size())));
         ++at) {
        if (static_cast<std::size_t>(at - begin) >= owned) break;
        if (!hit(static_cast<std::size_t>(at - begin))) break;
    }
}

// Where the names are: what step 2 finds.
struct NamesFound {
    std::uint64_t num_syms_pa = 0;
    std::uint64_t names_pa = 0;
    std::uint64_t names_size = 0;
    std::uint64_t markers_pa = 0;
    std::uint32_t count = 0;
    unsigned alignment = 4;
    std::optional<std::uint64_t> seqs_pa; // room for seqs_of_names between markers and token table (6.1 - 6.3)
};

// num_syms at `pa` (bytes[pa - base]), tables `alignment`-aligned: do its names
// walk to markers that end before the token table (directly, or after seqs)?
std::optional<NamesFound> names_at(std::span<const std::uint8_t> bytes, std::uint64_t base, std::uint64_t pa,
                                   unsigned alignment, const TokenCandidate& tokens)
{
    std::uint64_t token_pa = tokens.table_pa;
    const std::uint8_t* at = bytes.data() + (pa - base);
    auto count = load_unaligned<std::uint32_t>(at);
    if (count == 0 || count > MAX_SYMBOLS || pa % alignment || token_pa % alignment) return std::nullopt;
    std::uint64_t names_pa = pa + alignment;
    if (names_pa > token_pa || !all_zero(at + 4, at + alignment)) return std::nullopt;
    std::uint32_t markers = markers_for(count);
    for (bool seqs : {false, true}) {
        std::uint64_t tail = align_up(4 * std::uint64_t{markers}, alignment) +
                             (seqs ? align_up(SEQ_BYTES * std::uint64_t{count}, alignment) : 0);
        if (tail > token_pa - names_pa || token_pa - names_pa - tail < 2 * std::uint64_t{count}) continue;
        std::uint64_t markers_pa = token_pa - tail;
        std::span<const std::uint8_t> marker_bytes = bytes.subspan(markers_pa - base, 4 * std::size_t{markers});
        std::uint64_t names_room = markers_pa - names_pa;
        bool increasing = load_unaligned<std::uint32_t>(marker_bytes.data()) == 0;
        for (std::uint32_t k = 1; increasing && k < markers; ++k)
            increasing = load_unaligned<std::uint32_t>(&marker_bytes[std::size_t{4} * k]) >
                             load_unaligned<std::uint32_t>(&marker_bytes[std::size_t{4} * (k - 1)]) &&
                         load_unaligned<std::uint32_t>(&marker_bytes[std::size_t{4} * k]) < names_room;
        if (!increasing) continue;
        std::span<const std::uint8_t> names = bytes.subspan(names_pa - base, names_room);
        std::optional<std::size_t> size = walk_names(names, count, marker_bytes, tokens.tokens);
        if (!size || align_up(names_pa + *size, alignment) != markers_pa ||
            !all_zero(names.data() + *size, names.data() + names.size()))
            continue;
        NamesFound found{pa, names_pa, *size, markers_pa, count, alignment, std::nullopt};
        if (seqs) {
            // Whether it holds a valid permutation is for step 3 to see: the
            // markers' place, proven by the names, is what counts here.
            found.seqs_pa = markers_pa + align_up(4 * std::uint64_t{markers}, alignment);
        }
        return found;
    }
    return std::nullopt;
}

std::optional<NamesFound> find_names(MemorySource& memory, const PhysicalRange& range, const TokenCandidate& tokens,
                                     const KallsymsSearch& search)
{
    std::uint64_t token_pa = tokens.table_pa;
    std::uint64_t scanned_down_to = token_pa; // every position >= this was tried
    for (std::uint64_t window = FIRST_NAMES_WINDOW; scanned_down_to > range.start; window *= 2) {
        std::uint64_t base = token_pa - std::min(window, token_pa - range.start);
        std::vector<std::uint8_t> bytes = read_clipped(memory, range, base, token_pa - base);
        for (std::uint64_t pa = (scanned_down_to - 4) & ~std::uint64_t{3}; pa >= base && pa < token_pa; pa -= 4) {
            // 8-byte alignment (64-bit, up to 6.x) first: its names start 8
            // bytes on, where 4-byte alignment would see zero padding.
            for (unsigned alignment : {8U, 4U}) {
                if (alignment == 8 && search.pointer_size == 4U) continue;
                if (auto found = names_at(bytes, base, pa, alignment, tokens)) return found;
            }
            if (pa < 4) break;
        }
        scanned_down_to = base;
        if (window >= MAX_NAMES_WINDOW) break;
    }
    return std::nullopt;
}

// Step 3: one guess at the address table.
struct AddressGuess {
    KallsymsEncoding encoding;
    std::uint64_t pa;
    unsigned entry_size;
    unsigned pointer_size;
    std::optional<std::uint64_t> relative_base_pa;
    std::optional<std::uint64_t> seqs_pa; // where seqs_of_names would follow
};

std::vector<AddressGuess> address_guesses(const NamesFound& names, const TokenCandidate& tokens)
{
    using E = KallsymsEncoding;
    std::vector<AddressGuess> guesses;
    std::uint64_t n = names.count;
    unsigned a = names.alignment;
    unsigned pointer = a; // until 6.x every table is aligned to the pointer size
    // 6.4 and later: after the token index.
    std::uint64_t after = align_up(tokens.index_pa + TOKEN_INDEX_BYTES, a);
    if (!names.seqs_pa) {
        std::uint64_t base_pa = align_up(after + 4 * n, a);
        for (E e : {E::Relative, E::AbsolutePercpu})
            guesses.push_back({e, after, 4, pointer, base_pa, align_up(base_pa + pointer, a)});
        if (a == 4) {
            // 7.x: no relative base, 32-bit and 64-bit alike. Before Absolute:
            // place-relative values may also be sorted as plain numbers, while
            // 32-bit kernel addresses (1 GiB and up) are never within +-1 GiB.
            guesses.push_back({E::PlaceRelative, after, 4, 8, std::nullopt, after + 4 * n});
            guesses.push_back({E::PlaceRelative, after, 4, 4, std::nullopt, after + 4 * n});
        }
        guesses.push_back({E::Absolute, after, pointer, pointer, std::nullopt, align_up(after + pointer * n, a)});
    }
    // Up to 6.3: before num_syms, relative base last.
    if (names.num_syms_pa >= pointer + align_up(4 * n, a)) {
        std::uint64_t base_pa = names.num_syms_pa - pointer;
        for (E e : {E::Relative, E::AbsolutePercpu})
            guesses.push_back({e, base_pa - align_up(4 * n, a), 4, pointer, base_pa, names.seqs_pa});
    }
    if (names.num_syms_pa >= align_up(pointer * n, a))
        guesses.push_back(
            {E::Absolute, names.num_syms_pa - align_up(pointer * n, a), pointer, pointer, std::nullopt, names.seqs_pa});
    return guesses;
}

std::optional<KallsymsLocation> try_guess(MemorySource& memory, const PhysicalRange& range, const NamesFound& names,
                                          const TokenCandidate& tokens, const AddressGuess& guess)
{
    std::uint64_t size = std::uint64_t{guess.entry_size} * names.count;
    if (guess.pa < range.start || guess.pa + size > range.end()) return std::nullopt;
    std::vector<std::uint8_t> raw = read_clipped(memory, range, guess.pa, size);
    std::uint64_t relative_base = 0;
    if (guess.relative_base_pa) {
        std::vector<std::uint8_t> base = read_clipped(memory, range, *guess.relative_base_pa, guess.pointer_size);
        if (base.size() < guess.pointer_size) return std::nullopt;
        relative_base = load_guest_word(base.data(), guess.pointer_size);
    }
    if (!AddressDecoder(guess.encoding, guess.entry_size, guess.pointer_size, relative_base, raw).valid())
        return std::nullopt;

    KallsymsLocation location;
    location.pointer_size = guess.pointer_size;
    location.alignment = names.alignment;
    location.count = names.count;
    location.num_syms_pa = names.num_syms_pa;
    location.names_pa = names.names_pa;
    location.names_size = names.names_size;
    location.markers_pa = names.markers_pa;
    location.token_table_pa = tokens.table_pa;
    location.token_table_size = tokens.tokens.size();
    location.token_index_pa = tokens.index_pa;
    location.encoding = guess.encoding;
    location.addresses_pa = guess.pa;
    location.address_size = guess.entry_size;
    location.relative_base_pa = guess.relative_base_pa;
    location.relative_base = relative_base;
    if (guess.seqs_pa && *guess.seqs_pa + SEQ_BYTES * names.count <= range.end()) {
        std::vector<std::uint8_t> seqs = read_clipped(memory, range, *guess.seqs_pa, SEQ_BYTES * names.count);
        if (seqs_valid(seqs, names.count)) location.seqs_of_names_pa = guess.seqs_pa;
    }
    location.fingerprint = fingerprint(names.count, tokens.tokens);
    return location;
}

// Step 4. Symbols likely to hold a pointer to themselves (an empty list
// head): data and bss first, then the rest; `alignment_base` added to where
// they are must be aligned to the pointer size.
std::vector<std::uint32_t> voters(const KallsymsTables& tables, unsigned pointer_size)
{
    std::vector<std::uint32_t> data, other;
    const KallsymsLocation& location = tables.location();
    const AddressDecoder& decoder = tables.addresses();
    bool place = location.encoding == KallsymsEncoding::PlaceRelative;
    std::size_t offset = 0;
    for (std::uint32_t i = 0; i < tables.count() && data.size() < MAX_VOTERS; ++i) {
        NameRecord record = tables.record(offset);
        offset = record.next;
        if (decoder.absolute(i)) continue;
        std::uint64_t where =
            place ? location.addresses_pa + static_cast<std::uint64_t>(decoder.place_offset(i)) : decoder.address(i);
        if (where % pointer_size) continue;
        char type = tables.tokens().token(tables.codes(record).front()).front();
        if (std::strchr("dDbB", type)) data.push_back(i);
        else if (other.size() < MAX_VOTERS) other.push_back(i);
    }
    other.resize(std::min(other.size(), MAX_VOTERS - data.size()));
    data.insert(data.end(), other.begin(), other.end());
    return data;
}

std::optional<std::uint64_t> read_pointer(MemorySource& memory, std::uint64_t pa, unsigned size)
{
    if (!memory.is_ram(pa, size)) return std::nullopt;
    std::uint8_t bytes[8] = {};
    memory.read(pa, {bytes, size});
    return load_guest_word(bytes, size);
}

// Place-relative tables: symbol i lies at PA table + place_offset(i); a word
// there equal to its own VA votes for VA - PA.
std::optional<std::uint64_t> vote_image_offset(MemorySource& memory, const KallsymsTables& tables)
{
    const KallsymsLocation& location = tables.location();
    unsigned size = location.pointer_size;
    std::uint64_t mask = size == 8 ? ~std::uint64_t{0} : 0xffffffffULL;
    std::unordered_map<std::uint64_t, std::uint32_t> votes;
    for (std::uint32_t i : voters(tables, size)) {
        std::uint64_t pa = location.addresses_pa + static_cast<std::uint64_t>(tables.addresses().place_offset(i));
        std::optional<std::uint64_t> word = read_pointer(memory, pa, size);
        if (!word) continue;
        std::uint64_t offset = (*word - pa) & mask;
        if (offset % 4096 == 0 && offset != 0) ++votes[offset]; // VA and PA share the page offset
    }
    std::pair<std::uint64_t, std::uint32_t> best{0, 0};
    std::uint32_t second = 0;
    for (auto [offset, count] : votes) {
        if (count > best.second) {
            second = best.second;
            best = {offset, count};
        } else {
            second = std::max(second, count);
        }
    }
    // The kernel image lives in the top half of the address space.
    std::uint64_t table_va = (location.addresses_pa + best.first) & mask;
    std::uint64_t floor = size == 8 ? 0xffff800000000000ULL : 0x40000000ULL;
    if (best.second < MIN_VOTES || best.second < 2 * second || table_va < floor) return std::nullopt;
    return best.first;
}

std::optional<std::uint32_t> index_of(const KallsymsTables& tables, std::string_view name)
{
    if (std::optional<std::uint32_t> index = tables.search_by_name(name)) return index;
    return tables.scan_by_name({name}).front();
}

// The lowest address of a symbol in the image (absolute per-CPU values are not).
std::optional<std::uint64_t> lowest_address(const KallsymsTables& tables)
{
    for (std::uint32_t i = 0; i < tables.count(); ++i)
        if (!tables.addresses().absolute(i)) return tables.address(i);
    return std::nullopt;
}

bool banner_at(MemorySource& memory, std::uint64_t pa)
{
    char text[BANNER.size()];
    if (!memory.is_ram(pa, sizeof text)) return false;
    memory.read(pa, {reinterpret_cast<std::uint8_t*>(text), sizeof text});
    return std::memcmp(text, BANNER.data(), sizeof text) == 0;
}

// Tables that hold the addresses themselves: copies of "Linux version " at
// linux_banner's page offset propose VA - PA, and the one that most data
// pointing to itself confirms wins. x86 kernels are loaded at a physical
// address aligned like their link address, to 2 MiB at least, so the banner
// keeps its place modulo 2 MiB: probes every 2 MiB within an image's span of
// the tables find it (the kernel locator probes the same way); failing
// that, a search of that span.
std::optional<std::uint64_t> banner_image_offset(MemorySource& memory, const KallsymsTables& tables)
{
    std::optional<std::uint32_t> banner = index_of(tables, "linux_banner");
    std::optional<std::uint64_t> lowest = lowest_address(tables);
    if (!banner || !lowest) return std::nullopt;
    const KallsymsLocation& location = tables.location();
    unsigned size = location.pointer_size;
    std::uint64_t mask = size == 8 ? ~std::uint64_t{0} : 0xffffffffULL;
    std::uint64_t banner_va = tables.address(*banner);

    constexpr std::uint64_t ALIGN = 0x200000;
    std::uint64_t tables_pa = location.token_table_pa;
    std::uint64_t span = std::min<std::uint64_t>((tables.address(tables.count() - 1) - *lowest) & mask, MAX_IMAGE_SPAN);
    std::uint64_t from = tables_pa - std::min(span, tables_pa);
    std::vector<std::uint64_t> copies;
    for (std::uint64_t pa = (from & ~(ALIGN - 1)) | (banner_va & (ALIGN - 1)); pa < tables_pa + span; pa += ALIGN)
        if (pa >= from && banner_at(memory, pa)) copies.push_back(pa);
    if (copies.empty()) {
        for (const PhysicalRange& range : memory.ranges()) {
            std::uint64_t start = std::max(range.start, from), end = std::min(range.end(), tables_pa + span);
            for (std::uint64_t at = start; at < end && copies.size() < MAX_BANNERS; at += SCAN_CHUNK) {
                std::vector<std::uint8_t> bytes = read_clipped(memory, range, at, SCAN_CHUNK + SCAN_OVERLAP);
                for_each_hit(bytes, SCAN_CHUNK, BANNER, [&](std::size_t offset) {
                    if (((at + offset) & 0xfff) == (banner_va & 0xfff)) copies.push_back(at + offset);
                    return copies.size() < MAX_BANNERS;
                });
            }
        }
    }

    std::vector<std::uint32_t> sample = voters(tables, size);
    std::optional<std::uint64_t> best;
    std::uint32_t best_votes = MIN_VOTES - 1;
    for (std::uint64_t pa : copies) {
        std::uint64_t offset = (banner_va - pa) & mask;
        std::uint32_t votes = 0;
        for (std::uint32_t i : sample) {
            std::uint64_t va = tables.address(i);
            if (read_pointer(memory, (va - offset) & mask, size) == va) ++votes;
        }
        if (votes > best_votes) {
            best = offset;
            best_votes = votes;
        }
    }
    return best;
}

// Do the tables lie in the image they describe, moved to physical addresses:
// in its .rodata where the symbols say where that is (KALLSYMS_ALL), else
// between its lowest and highest symbol? A copy elsewhere does not (a
// forged one, a vmlinux in the page cache; one written into the image's
// freed init memory is caught by the .rodata bounds).
bool inside_image(const KallsymsTables& tables, std::uint64_t va_minus_pa)
{
    const KallsymsLocation& location = tables.location();
    std::uint64_t mask = location.pointer_size == 8 ? ~std::uint64_t{0} : 0xffffffffULL;
    std::optional<std::uint64_t> start = lowest_address(tables);
    std::optional<std::uint64_t> end = tables.address(tables.count() - 1);
    std::optional<std::uint32_t> rodata = index_of(tables, "__start_rodata");
    std::optional<std::uint32_t> rodata_end = index_of(tables, "__end_rodata");
    if (rodata && rodata_end) {
        start = tables.address(*rodata);
        end = tables.address(*rodata_end);
    }
    if (!start) return false;
    std::uint64_t first = std::min({location.num_syms_pa, location.addresses_pa, location.token_table_pa});
    std::uint64_t last = std::max({location.token_index_pa + TOKEN_INDEX_BYTES,
                                   location.addresses_pa + std::uint64_t{location.address_size} * location.count});
    std::uint64_t image_start = (*start - va_minus_pa) & mask, image_end = (*end - va_minus_pa) & mask;
    return image_start <= first && last <= image_end;
}

void place_in_image(MemorySource& memory, KallsymsLocation& location, const KallsymsSearch& search)
{
    KallsymsTables tables(memory, location);
    std::optional<std::uint64_t> offset = search.image_va_minus_pa;
    if (!offset && location.encoding == KallsymsEncoding::PlaceRelative) offset = vote_image_offset(memory, tables);
    else if (!offset) offset = banner_image_offset(memory, tables);
    if (!offset) return;
    tables.set_image_va_minus_pa(*offset);
    location.image_va_minus_pa = offset;
    location.inside_image = inside_image(tables, *offset);
}

// The search: the scan's passes over RAM, each token table found located in
// turn (after every chunk when the first placed tables end the search).
class Finder {
public:
    Finder(MemorySource& memory, const KallsymsSearch& search) : memory_(memory), search_(search) {}

    std::vector<KallsymsLocation> run()
    {
        scan_digits();
        locate_pending();
        if (found_.empty()) {
            scan_index_shapes();
            locate_pending();
        }
        std::stable_sort(found_.begin(), found_.end(), [](const KallsymsLocation& a, const KallsymsLocation& b) {
            if (a.inside_image != b.inside_image) return a.inside_image;
            return a.count > b.count;
        });
        return std::move(found_);
    }

private:
    bool done() const
    {
        return search_.first_only && std::any_of(found_.begin(), found_.end(), [this](const KallsymsLocation& l) {
                   return l.inside_image || (search_.accept_unplaced && !l.image_va_minus_pa);
               });
    }

    // Calls visit(range, pa, chunk, bytes owned by this chunk) over all RAM,
    // until the search is done.
    template <typename Visit>
    void for_each_chunk(Visit visit)
    {
        std::vector<std::uint8_t> buffer(SCAN_CHUNK + SCAN_OVERLAP);
        // RAM never touched (zeros) holds no table: its chunks are skipped.
        std::vector<PhysicalRange> data = memory_.data_ranges();
        for (const PhysicalRange& range : memory_.ranges()) {
            for (std::uint64_t at = range.start; at < range.end(); at += SCAN_CHUNK) {
                if (!overlaps_any(data, at, SCAN_CHUNK)) continue;
                auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), range.end() - at));
                memory_.read(at, {buffer.data(), n});
                visit(range, at, std::span<const std::uint8_t>(buffer.data(), n), std::min(n, SCAN_CHUNK));
                if (search_.first_only) locate_pending();
                if (done()) return;
            }
        }
    }

    void scan_digits()
    {
        std::size_t anchors = 0;
        for_each_chunk(
            [&](const PhysicalRange& range, std::uint64_t at, std::span<const std::uint8_t> bytes, std::size_t owned) {
                for_each_hit(bytes, owned, DIGIT_TOKENS, [&](std::size_t offset) {
                    add(token_tables_from_digits(memory_, range, at + offset));
                    return ++anchors < MAX_ANCHORS;
                });
            });
    }

    // The second pass, for kernels whose names lack a digit.
    void scan_index_shapes()
    {
        std::size_t shapes = 0;
        for_each_chunk([&](const PhysicalRange& range, std::uint64_t at, std::span<const std::uint8_t> bytes,
                           std::size_t owned) {
            for (std::size_t offset = (4 - at % 4) % 4; offset + 32 <= bytes.size() && offset < owned; offset += 4) {
                if (shapes >= MAX_SHAPES || !index_shape(bytes.data() + offset)) continue;
                ++shapes;
                add(token_tables_before(memory_, range, at + offset));
            }
        });
    }

    void add(std::optional<TokenCandidate> candidate)
    {
        if (!candidate || token_tables_.size() >= MAX_TOKEN_TABLES) return;
        for (const TokenCandidate& known : token_tables_)
            if (known.table_pa == candidate->table_pa) return;
        token_tables_.push_back(std::move(*candidate));
    }

    void locate_pending()
    {
        for (; located_ < token_tables_.size(); ++located_)
            if (std::optional<KallsymsLocation> location = locate(token_tables_[located_])) found_.push_back(*location);
    }

    std::optional<KallsymsLocation> locate(const TokenCandidate& tokens)
    {
        const PhysicalRange* range = range_of(memory_, tokens.table_pa);
        std::optional<NamesFound> names = range ? find_names(memory_, *range, tokens, search_) : std::nullopt;
        if (!names) return std::nullopt;
        // A place-relative table reads the same for either pointer size: the
        // one whose image is found wins, else the 64-bit reading.
        std::optional<KallsymsLocation> chosen;
        for (const AddressGuess& guess : address_guesses(*names, tokens)) {
            if (search_.pointer_size && guess.pointer_size != *search_.pointer_size) continue;
            std::optional<KallsymsLocation> location = try_guess(memory_, *range, *names, tokens, guess);
            if (!location) continue;
            try {
                place_in_image(memory_, *location, search_);
            } catch (const Error&) {
                continue; // changed under us (a live guest): not a table to offer
            }
            if (location->encoding == KallsymsEncoding::PlaceRelative && !location->image_va_minus_pa) {
                if (!chosen) chosen = location;
                continue;
            }
            return location;
        }
        return chosen;
    }

    MemorySource& memory_;
    const KallsymsSearch& search_;
    std::vector<TokenCandidate> token_tables_;
    std::size_t located_ = 0;
    std::vector<KallsymsLocation> found_;
};

} // namespace

std::vector<KallsymsLocation> find_kallsyms(MemorySource& memory, const KallsymsSearch& search)
{
    if (search.pointer_size && *search.pointer_size != 4 && *search.pointer_size != 8)
        fail("kallsyms: pointer size {} (4 or 8)", *search.pointer_size);
    return Finder(memory, search).run();
}

} // namespace vmi
