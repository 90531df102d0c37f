#pragma once
// The pieces of the kallsyms format, each checked as the kernel's own
// scripts/kallsyms.c would have written it: the token table, the compressed
// names, the address encodings, seqs_of_names. Shared by the finder (which
// tries them on candidate bytes) and the reader (which decodes with them).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "vmi/linux/Kallsyms.hpp"

namespace vmi::kallsyms_detail {

// Bounds against hostile memory; real kernels are far below them (Debian's
// have 45k-200k symbols, 1-3 MiB of names).
constexpr std::uint32_t MAX_SYMBOLS = 1U << 22;
constexpr std::size_t MAX_EXPANDED_NAME = 512;   // KSYM_NAME_LEN: type letter + name
constexpr std::uint32_t MAX_NAME_CODES = 0x3fff; // a 2-byte ULEB128 length
constexpr std::size_t TOKEN_COUNT = 256;
constexpr std::size_t TOKEN_INDEX_BYTES = 2 * TOKEN_COUNT;
constexpr std::size_t MAX_TOKEN_TABLE = 0x10000; // its offsets are u16
constexpr std::size_t SEQ_BYTES = 3;

std::uint32_t markers_for(std::uint32_t count);
std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment);

// kallsyms_token_table and kallsyms_token_index.
class TokenTable {
public:
    // `table` starts at the first token (and may run on past the last);
    // `index` holds the 256 little-endian u16. Valid when index[0] is 0, every
    // token ends in a NUL where the next one begins, and tokens hold printable
    // characters other than space only (so names can never carry a newline
    // or an escape sequence into a tool's output).
    static std::optional<TokenTable> parse(std::span<const std::uint8_t> table, std::span<const std::uint8_t> index);

    std::string_view token(std::uint8_t code) const { return {text_.data() + offsets_[code], lengths_[code]}; }
    std::size_t length(std::uint8_t code) const { return lengths_[code]; }
    // Bytes through the last token's NUL.
    std::uint32_t size() const { return static_cast<std::uint32_t>(text_.size()); }
    const std::string& text() const { return text_; }
    const std::array<std::uint16_t, TOKEN_COUNT>& offsets() const { return offsets_; }

private:
    std::string text_;
    std::array<std::uint16_t, TOKEN_COUNT> offsets_{};
    std::array<std::uint16_t, TOKEN_COUNT> lengths_{};
};

// One entry of kallsyms_names: a 1- or 2-byte ULEB128 length (since 6.1;
// one byte before, which reads the same below 128) and that many codes.
struct NameRecord {
    std::size_t codes = 0;  // offset of the first code
    std::size_t length = 0; // number of codes
    std::size_t next = 0;   // offset of the next record
};
std::optional<NameRecord> read_name(std::span<const std::uint8_t> names, std::size_t offset);

// The expanded length (type letter included) of a record, or nullopt when it
// is shorter than 2 or longer than MAX_EXPANDED_NAME.
std::optional<std::size_t> expanded_length(const TokenTable& tokens, std::span<const std::uint8_t> codes);
// Appends the expansion (type letter first) to `out`.
void expand(const TokenTable& tokens, std::span<const std::uint8_t> codes, std::string& out);

// Walks `count` names from names[0]: every record fits and expands to a
// plausible name, and markers[k] (little-endian u32) is the offset of name
// 256*k. Returns the offset just past the last name.
std::optional<std::size_t> walk_names(std::span<const std::uint8_t> names, std::uint32_t count,
                                      std::span<const std::uint8_t> markers, const TokenTable& tokens);

// kallsyms_offsets / kallsyms_addresses, decoded.
class AddressDecoder {
public:
    // `raw` holds count * entry_size bytes. `table_va` (the virtual address of
    // entry 0) only matters for PlaceRelative.
    AddressDecoder(KallsymsEncoding encoding, unsigned entry_size, unsigned pointer_size, std::uint64_t relative_base,
                   std::span<const std::uint8_t> raw);
    void set_table_va(std::uint64_t table_va) { table_va_ = table_va; }

    std::uint32_t count() const { return count_; }
    std::uint64_t address(std::uint32_t index) const;
    // The address relative to entry 0's own address (PlaceRelative only):
    // the symbol's physical address is the table's plus this.
    std::int64_t place_offset(std::uint32_t index) const;
    bool absolute(std::uint32_t index) const; // an absolute per-CPU value

    // The rules scripts/kallsyms.c kept when it wrote them: sorted by address
    // (absolute per-CPU values first), the relative base being the first
    // relative symbol's address, offsets in range. Random bytes fail this.
    bool valid() const;

private:
    std::int32_t entry32(std::uint32_t index) const;
    std::uint64_t mask() const { return pointer_size_ == 8 ? ~std::uint64_t{0} : 0xffffffffULL; }

    KallsymsEncoding encoding_;
    unsigned entry_size_;
    unsigned pointer_size_;
    std::uint64_t relative_base_;
    std::uint64_t table_va_ = 0;
    std::span<const std::uint8_t> raw_;
    std::uint32_t count_;
};

// kallsyms_seqs_of_names: `count` 3-byte big-endian indices, a permutation.
bool seqs_valid(std::span<const std::uint8_t> seqs, std::uint32_t count);
std::uint32_t seq_at(std::span<const std::uint8_t> seqs, std::uint32_t position);

// The KallsymsLocation::fingerprint of these tables.
std::uint64_t fingerprint(std::uint32_t count, const TokenTable& tokens);

} // namespace vmi::kallsyms_detail
