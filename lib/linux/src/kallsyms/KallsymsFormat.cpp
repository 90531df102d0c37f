#include "kallsyms/KallsymsFormat.hpp"

#include <limits>
#include <vector>

#include "vmi/base/Fnv1a.hpp"
#include "vmi/base/UnalignedLoad.hpp"

namespace vmi::kallsyms_detail {

std::uint32_t markers_for(std::uint32_t count) { return (count + 255) / 256; }

std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment)
{
    return (value + alignment - 1) / alignment * alignment;
}

std::optional<TokenTable> TokenTable::parse(std::span<const std::uint8_t> table, std::span<const std::uint8_t> index)
{
    if (index.size() < TOKEN_INDEX_BYTES) return std::nullopt;
    TokenTable tokens;
    for (std::size_t i = 0; i < TOKEN_COUNT; ++i)
        tokens.offsets_[i] = static_cast<std::uint16_t>(index[2 * i] | (index[2 * i + 1] << 8));
    if (tokens.offsets_[0] != 0) return std::nullopt;
    std::size_t end = 0;
    for (std::size_t i = 0; i < TOKEN_COUNT; ++i) {
        std::size_t start = tokens.offsets_[i];
        if (start != end) return std::nullopt; // each token begins where the previous one's NUL ended
        std::size_t at = start;
        while (at < table.size() && table[at] != 0) {
            if (table[at] <= 0x20 || table[at] >= 0x7f) return std::nullopt;
            ++at;
        }
        if (at >= table.size()) return std::nullopt;
        tokens.lengths_[i] = static_cast<std::uint16_t>(at - start);
        end = at + 1;
        if (end > MAX_TOKEN_TABLE) return std::nullopt;
    }
    tokens.text_.assign(reinterpret_cast<const char*>(table.data()), end);
    return tokens;
}

std::optional<NameRecord> read_name(std::span<const std::uint8_t> names, std::size_t offset)
{
    if (offset >= names.size()) return std::nullopt;
    NameRecord record;
    std::size_t length = names[offset];
    record.codes = offset + 1;
    if (length & 0x80) {
        if (record.codes >= names.size() || (names[record.codes] & 0x80)) return std::nullopt;
        length = (length & 0x7f) | (std::size_t{names[record.codes]} << 7);
        ++record.codes;
    }
    if (length == 0 || length > MAX_NAME_CODES || length > names.size() - record.codes) return std::nullopt;
    record.length = length;
    record.next = record.codes + length;
    return record;
}

std::optional<std::size_t> expanded_length(const TokenTable& tokens, std::span<const std::uint8_t> codes)
{
    std::size_t length = 0;
    for (std::uint8_t code : codes) {
        length += tokens.length(code);
        if (length > MAX_EXPANDED_NAME) return std::nullopt;
    }
    if (length < 2) return std::nullopt; // a type letter and at least one character
    return length;
}

void expand(const TokenTable& tokens, std::span<const std::uint8_t> codes, std::string& out)
{
    for (std::uint8_t code : codes) out.append(tokens.token(code));
}

std::optional<std::size_t> walk_names(std::span<const std::uint8_t> names, std::uint32_t count,
                                      std::span<const std::uint8_t> markers, const TokenTable& tokens)
{
    if (markers.size() < 4 * std::size_t{markers_for(count)}) return std::nullopt;
    std::size_t offset = 0;
    for (std::uint32_t i = 0; i < count; ++i) {
        if ((i & 0xff) == 0 && load_unaligned<std::uint32_t>(markers.data() + std::size_t{4} * (i >> 8)) != offset)
            return std::nullopt;
        std::optional<NameRecord> record = read_name(names, offset);
        if (!record || !expanded_length(tokens, names.subspan(record->codes, record->length))) return std::nullopt;
        offset = record->next;
    }
    return offset;
}

AddressDecoder::AddressDecoder(KallsymsEncoding encoding, unsigned entry_size, unsigned pointer_size,
                               std::uint64_t relative_base, std::span<const std::uint8_t> raw)
    : encoding_(encoding),
      entry_size_(entry_size),
      pointer_size_(pointer_size),
      relative_base_(relative_base),
      raw_(raw),
      count_(static_cast<std::uint32_t>(raw.size() / entry_size))
{}

std::int32_t AddressDecoder::entry32(std::uint32_t index) const
{
    return static_cast<std::int32_t>(load_unaligned<std::uint32_t>(raw_.data() + std::size_t{4} * index));
}

bool AddressDecoder::absolute(std::uint32_t index) const
{
    return encoding_ == KallsymsEncoding::AbsolutePercpu && entry32(index) >= 0;
}

std::int64_t AddressDecoder::place_offset(std::uint32_t index) const
{
    return std::int64_t{4} * index + entry32(index);
}

std::uint64_t AddressDecoder::address(std::uint32_t index) const
{
    switch (encoding_) {
    case KallsymsEncoding::Absolute:
        return load_guest_word(raw_.data() + std::size_t{entry_size_} * index, entry_size_);
    case KallsymsEncoding::Relative: return (relative_base_ + static_cast<std::uint32_t>(entry32(index))) & mask();
    case KallsymsEncoding::AbsolutePercpu: {
        std::int32_t value = entry32(index);
        if (value >= 0) return static_cast<std::uint64_t>(value);
        return (relative_base_ + static_cast<std::uint64_t>(-1 - std::int64_t{value})) & mask();
    }
    case KallsymsEncoding::PlaceRelative: return (table_va_ + static_cast<std::uint64_t>(place_offset(index))) & mask();
    }
    return 0;
}

bool AddressDecoder::valid() const
{
    if (count_ == 0) return false;
    switch (encoding_) {
    case KallsymsEncoding::Absolute: {
        // Values that are kernel addresses: the same on every run, so a
        // table of plain small numbers (sizes, counters) does not pass.
        std::uint64_t floor = pointer_size_ == 8 ? 0xffff800000000000ULL : 0x40000000ULL;
        std::uint64_t previous = 0;
        bool any_kernel = false;
        for (std::uint32_t i = 0; i < count_; ++i) {
            std::uint64_t value = address(i);
            if (value < previous) return false;
            any_kernel |= value >= floor;
            previous = value;
        }
        return any_kernel;
    }
    case KallsymsEncoding::Relative: {
        // relative_base is the first (lowest) symbol's address: offset 0.
        std::uint64_t floor = pointer_size_ == 8 ? 0xffff800000000000ULL : 0x40000000ULL;
        if (relative_base_ < floor || entry32(0) != 0) return false;
        std::uint32_t previous = 0;
        for (std::uint32_t i = 0; i < count_; ++i) {
            auto value = static_cast<std::uint32_t>(entry32(i));
            if (value < previous) return false;
            previous = value;
        }
        return previous <= mask() - relative_base_;
    }
    case KallsymsEncoding::AbsolutePercpu: {
        // Absolute (per-CPU) values first, ascending; then relative ones,
        // the first of them being relative_base itself (offset -1).
        if (pointer_size_ != 8 || relative_base_ < 0xffff800000000000ULL) return false;
        std::uint32_t i = 0;
        std::int32_t previous = 0;
        for (; i < count_ && entry32(i) >= 0; ++i) {
            if (entry32(i) < previous || static_cast<std::uint64_t>(entry32(i)) >= relative_base_) return false;
            previous = entry32(i);
        }
        if (i == count_ || entry32(i) != -1) return false;
        for (; i < count_; ++i) {
            if (entry32(i) >= 0 || entry32(i) > previous) return false; // more negative: higher address
            previous = entry32(i);
        }
        return static_cast<std::uint64_t>(-1 - std::int64_t{previous}) <= mask() - relative_base_;
    }
    case KallsymsEncoding::PlaceRelative: {
        // Each entry points within the image (+-1 GiB of itself), in order.
        std::int64_t previous = std::numeric_limits<std::int64_t>::min();
        for (std::uint32_t i = 0; i < count_; ++i) {
            std::int32_t value = entry32(i);
            if (value >= (1 << 30) || value <= -(1 << 30)) return false;
            if (place_offset(i) < previous) return false;
            previous = place_offset(i);
        }
        return true;
    }
    }
    return false;
}

bool seqs_valid(std::span<const std::uint8_t> seqs, std::uint32_t count)
{
    if (seqs.size() < SEQ_BYTES * std::size_t{count}) return false;
    std::vector<bool> seen(count);
    for (std::uint32_t i = 0; i < count; ++i) {
        std::uint32_t seq = seq_at(seqs, i);
        if (seq >= count || seen[seq]) return false;
        seen[seq] = true;
    }
    return true;
}

std::uint32_t seq_at(std::span<const std::uint8_t> seqs, std::uint32_t position)
{
    const std::uint8_t* p = seqs.data() + SEQ_BYTES * std::size_t{position};
    return (std::uint32_t{p[0]} << 16) | (std::uint32_t{p[1]} << 8) | p[2];
}

std::uint64_t fingerprint(std::uint32_t count, const TokenTable& tokens)
{
    Fnv1a hash;
    for (int shift = 0; shift < 32; shift += 8) hash.add(static_cast<std::uint8_t>(count >> shift));
    hash.add(tokens.text());
    for (std::uint16_t offset : tokens.offsets()) {
        hash.add(static_cast<std::uint8_t>(offset));
        hash.add(static_cast<std::uint8_t>(offset >> 8));
    }
    return hash.value();
}

} // namespace vmi::kallsyms_detail
