#include "vmi/types/KernelBtf.hpp"

#include <bpf/btf.h>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "BtfMemberPath.hpp"
#include "LibbpfMessages.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/ElfFile.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/MappedFile.hpp"
#include "vmi/base/UnalignedLoad.hpp"
#include "vmi/types/BtfCache.hpp"
#include "vmi/types/KernelImage.hpp"

namespace vmi {
namespace {

// A hostile BTF can nest anonymous members in themselves; C never nests deeper than a handful.
constexpr int MAX_ANONYMOUS_DEPTH = 32;

bool starts_with(std::span<const std::uint8_t> bytes, std::string_view magic)
{
    return bytes.size() >= magic.size() && std::memcmp(bytes.data(), magic.data(), magic.size()) == 0;
}

// BTF_MAGIC 0xeB9F as written by a little- or a big-endian kernel.
bool is_raw_btf(std::span<const std::uint8_t> bytes)
{
    return starts_with(bytes, "\x9f\xeb") || starts_with(bytes, "\xeb\x9f");
}

bool is_elf(std::span<const std::uint8_t> bytes)
{
    return starts_with(bytes, "\x7f"
                              "ELF");
}

// The .BTF section of a vmlinux ELF; `what` names the ELF in errors.
std::span<const std::uint8_t> btf_section(std::span<const std::uint8_t> elf, const std::string& origin,
                                          std::string_view what)
{
    std::optional<std::span<const std::uint8_t>> section = ElfFile(elf, fmt::format("'{}'", origin)).section(".BTF");
    if (!section) fail("'{}': {} has no .BTF section (kernel built without CONFIG_DEBUG_INFO_BTF)", origin, what);
    return *section;
}

// A 32-bit field of the BTF header at `offset`, in the byte order its magic says.
std::uint32_t header_word(std::span<const std::uint8_t> data, std::size_t offset)
{
    auto word = load_unaligned<std::uint32_t>(data.data() + offset);
    return data[0] == 0x9f ? word : __builtin_bswap32(word);
}

// The kernel refuses BTF whose type section is not 4-byte aligned (btf_check_sec_info);
// libbpf 1.1 does not check the header's length, and its inline accessors would then read
// every type through a misaligned pointer.
void check_btf_alignment(std::span<const std::uint8_t> data, const std::string& origin, std::string_view what)
{
    // struct btf_header: magic (2 bytes), version, flags, then hdr_len at 4 and type_off at 8.
    constexpr std::size_t HDR_LEN_AT = 4, TYPE_OFF_AT = 8;
    if (data.size() < TYPE_OFF_AT + 4 || !is_raw_btf(data)) return; // libbpf names these
    std::uint32_t hdr_len = header_word(data, HDR_LEN_AT), type_off = header_word(data, TYPE_OFF_AT);
    if (hdr_len % 4 != 0 || type_off % 4 != 0)
        fail("'{}': {} is not valid BTF (its type section at header length {} + offset {} is not 4-byte aligned)",
             origin, what, hdr_len, type_off);
}

struct btf* parse_btf(std::span<const std::uint8_t> data, const std::string& origin, std::string_view what)
{
    if (data.size() > std::numeric_limits<std::uint32_t>::max()) fail("'{}': {} is larger than 4 GiB", origin, what);
    check_btf_alignment(data, origin, what);
    LibbpfMessages messages;
    errno = 0;
    // btf__new copies the bytes, so `data` need not outlive it.
    struct btf* btf = btf__new(data.data(), static_cast<std::uint32_t>(data.size()));
    if (!btf) {
        int err = errno;
        std::string why = LibbpfMessages::last().empty() ? std::strerror(err) : LibbpfMessages::last();
        fail("'{}': {} is not valid BTF ({})", origin, what, why);
    }
    return btf;
}

// Where a member search ends: the member's (unresolved) type and its bit offset.
struct FoundMember {
    std::uint32_t type = 0;
    std::uint64_t bit_offset = 0;
    bool bitfield = false;
};

// Bitfields in structs without kind_flag are encoded in their int type instead.
bool int_is_bitfield(const struct btf* btf, std::uint32_t type_id)
{
    int resolved = btf__resolve_type(btf, type_id);
    const btf_type* t = resolved > 0 ? btf__type_by_id(btf, resolved) : nullptr;
    return t && btf_is_int(t) && (btf_int_offset(t) != 0 || btf_int_bits(t) != t->size * 8);
}

// Searches `composite` for `name`, looking inside anonymous struct and union
// members too, the way C lets code name them. `searched` holds the types
// entered so far: a type searched without success holds no such member
// however often it is reached again, and one still being searched is a
// cycle. A hostile BTF can nest a type in itself through several anonymous
// members, which without this would take 2^MAX_ANONYMOUS_DEPTH steps.
std::optional<FoundMember> find_member(const struct btf* btf, std::uint32_t composite, std::string_view name,
                                       std::unordered_set<std::uint32_t>& searched, int depth = 0)
{
    const btf_type* t = btf__type_by_id(btf, composite);
    if (!t || !btf_is_composite(t) || depth > MAX_ANONYMOUS_DEPTH) return std::nullopt;
    if (!searched.insert(composite).second) return std::nullopt;
    const btf_member* members = btf_members(t);
    for (std::uint32_t i = 0; i < btf_vlen(t); ++i) {
        const char* member_name = btf__name_by_offset(btf, members[i].name_off);
        std::uint64_t bit_offset = btf_member_bit_offset(t, i);
        if (member_name && *member_name) {
            if (member_name != name) continue;
            bool bitfield =
                btf_member_bitfield_size(t, i) != 0 || (!btf_kflag(t) && int_is_bitfield(btf, members[i].type));
            return FoundMember{members[i].type, bit_offset, bitfield};
        }
        int inner = btf__resolve_type(btf, members[i].type);
        if (inner <= 0) continue;
        if (std::optional<FoundMember> found =
                find_member(btf, static_cast<std::uint32_t>(inner), name, searched, depth + 1)) {
            found->bit_offset += bit_offset;
            return found;
        }
    }
    return std::nullopt;
}

} // namespace

struct KernelBtf::Member {
    std::uint32_t type = 0;
    std::uint64_t offset = 0; // bytes from the start of the struct
};

void KernelBtf::BtfFree::operator()(struct btf* btf) const { btf__free(btf); }

KernelBtf::KernelBtf(KernelBtf&&) noexcept = default;
KernelBtf& KernelBtf::operator=(KernelBtf&&) noexcept = default;
KernelBtf::~KernelBtf() = default;

KernelBtf KernelBtf::load(const std::string& path)
{
    using Owned = std::unique_ptr<struct btf, BtfFree>;
    MappedFile file(path, false, "BTF file");
    std::span<const std::uint8_t> bytes = file.bytes();
    if (is_raw_btf(bytes) || is_elf(bytes)) return from_buffer(bytes, path);

    // A compressed kernel: its BTF may be cached from an earlier run.
    BtfCache cache(path);
    if (std::unique_ptr<MappedFile> cached = cache.read()) {
        try {
            return KernelBtf(Owned(parse_btf(cached->bytes(), path, "cached BTF")), path,
                             fmt::format("compressed kernel; its BTF from the cache, {}", cache.entry_path()));
        } catch (const Error&) {
            diag::note("ignoring the unreadable BTF cache entry {}", cache.entry_path()); // unpacked again below
        }
    }
    KernelImage image = decompress_kernel_image(bytes, path);
    std::string container = image.describe();
    std::span<const std::uint8_t> section = btf_section(image.vmlinux, path, fmt::format("vmlinux ({})", container));
    KernelBtf btf(Owned(parse_btf(section, path, ".BTF section")), path, container);
    if (cache.write(section)) diag::note("cached the BTF of '{}' in {}", path, cache.entry_path());
    return btf;
}

KernelBtf KernelBtf::from_buffer(std::span<const std::uint8_t> bytes, const std::string& origin)
{
    using Owned = std::unique_ptr<struct btf, BtfFree>;
    if (is_raw_btf(bytes)) return KernelBtf(Owned(parse_btf(bytes, origin, "raw BTF")), origin, "raw BTF");
    if (is_elf(bytes)) {
        std::span<const std::uint8_t> section = btf_section(bytes, origin, "ELF file");
        return KernelBtf(Owned(parse_btf(section, origin, ".BTF section")), origin, "vmlinux ELF");
    }
    KernelImage image = decompress_kernel_image(bytes, origin);
    std::string container = image.describe();
    std::span<const std::uint8_t> section = btf_section(image.vmlinux, origin, fmt::format("vmlinux ({})", container));
    return KernelBtf(Owned(parse_btf(section, origin, ".BTF section")), origin, container);
}

KernelBtf::KernelBtf(std::unique_ptr<struct btf, BtfFree> btf, std::string origin, std::string container)
    : btf_(std::move(btf)), origin_(std::move(origin)), container_(std::move(container))
{
    // One pass over all types up front: a vmlinux has ~100k of them, and
    // libbpf's own name lookups are linear scans. Enumerators, which the
    // tools rarely ask for, are searched when asked.
    const struct btf* b = btf_.get();
    std::uint32_t count = btf__type_cnt(b);
    for (std::uint32_t id = 1; id < count; ++id) {
        const btf_type* t = btf__type_by_id(b, id);
        if (!t) continue;
        if (btf_is_composite(t)) {
            const char* name = btf__name_by_offset(b, t->name_off);
            if (!name || !*name) continue;
            // Several types may share a name; the one with members is the
            // definition, an empty one is at best a placeholder.
            auto [it, inserted] = composites_.try_emplace(name, id);
            if (!inserted && btf_vlen(btf__type_by_id(b, it->second)) == 0 && btf_vlen(t) > 0) it->second = id;
        }
    }
}

std::optional<std::uint32_t> KernelBtf::find_composite(std::string_view name) const
{
    auto it = composites_.find(name);
    if (it == composites_.end()) return std::nullopt;
    return it->second;
}

std::optional<KernelBtf::Member> KernelBtf::resolve_path(std::string_view struct_name, std::string_view path) const
{
    std::vector<BtfPathStep> steps = parse_btf_member_path(path);
    std::optional<std::uint32_t> composite = find_composite(struct_name);
    if (!composite) return std::nullopt;
    const struct btf* b = btf_.get();
    auto corrupt = [&]() -> void { fail("'{}': BTF for {}.{} is corrupt", origin_, struct_name, path); };

    Member member{*composite, 0};
    std::uint64_t bit_offset = 0;
    for (const BtfPathStep& step : steps) {
        int resolved = btf__resolve_type(b, member.type);
        if (resolved <= 0) return std::nullopt;
        std::unordered_set<std::uint32_t> searched;
        std::optional<FoundMember> found = find_member(b, static_cast<std::uint32_t>(resolved), step.name, searched);
        if (!found) return std::nullopt;
        if (found->bitfield) fail("'{}': {}.{} is a bitfield and has no byte offset", origin_, struct_name, path);
        if (__builtin_add_overflow(bit_offset, found->bit_offset, &bit_offset)) corrupt();
        member.type = found->type;
        for (std::uint64_t index : step.indexes) {
            int array_id = btf__resolve_type(b, member.type);
            const btf_type* t = array_id > 0 ? btf__type_by_id(b, array_id) : nullptr;
            if (!t || !btf_is_array(t))
                fail("'{}': {}.{}: '{}' is not an array", origin_, struct_name, path, step.name);
            const struct btf_array* array = btf_array(t);
            if (index >= array->nelems) return std::nullopt;
            std::int64_t element_size = btf__resolve_size(b, array->type);
            if (element_size < 0) corrupt();
            std::uint64_t step_bits;
            if (__builtin_mul_overflow(index, static_cast<std::uint64_t>(element_size) * 8, &step_bits) ||
                __builtin_add_overflow(bit_offset, step_bits, &bit_offset))
                corrupt();
            member.type = array->type;
        }
    }
    if (bit_offset % 8 != 0) fail("'{}': {}.{} is not byte-aligned", origin_, struct_name, path);
    member.offset = bit_offset / 8;
    return member;
}

std::optional<std::uint64_t> KernelBtf::member_offset(std::string_view struct_name, std::string_view path) const
{
    std::optional<Member> member = resolve_path(struct_name, path);
    if (!member) return std::nullopt;
    return member->offset;
}

std::optional<std::uint64_t> KernelBtf::member_size(std::string_view struct_name, std::string_view path) const
{
    std::optional<Member> member = resolve_path(struct_name, path);
    if (!member) return std::nullopt;
    std::int64_t size = btf__resolve_size(btf_.get(), member->type);
    if (size < 0) fail("'{}': cannot size {}.{} from BTF", origin_, struct_name, path);
    return static_cast<std::uint64_t>(size);
}

std::optional<std::uint64_t> KernelBtf::array_length(std::string_view struct_name, std::string_view path) const
{
    std::optional<Member> member = resolve_path(struct_name, path);
    if (!member) return std::nullopt;
    int resolved = btf__resolve_type(btf_.get(), member->type);
    const btf_type* t = resolved > 0 ? btf__type_by_id(btf_.get(), resolved) : nullptr;
    if (!t || !btf_is_array(t)) fail("'{}': {}.{} is not an array", origin_, struct_name, path);
    return btf_array(t)->nelems;
}

std::optional<std::uint64_t> KernelBtf::struct_size(std::string_view struct_name) const
{
    std::optional<std::uint32_t> composite = find_composite(struct_name);
    if (!composite) return std::nullopt;
    return btf__type_by_id(btf_.get(), *composite)->size;
}

std::optional<std::int64_t> KernelBtf::enum_value(std::string_view enumerator) const
{
    const struct btf* b = btf_.get();
    std::uint32_t count = btf__type_cnt(b);
    for (std::uint32_t id = 1; id < count; ++id) {
        const btf_type* t = btf__type_by_id(b, id);
        if (!t) continue;
        if (btf_is_enum(t)) {
            const struct btf_enum* values = btf_enum(t);
            for (std::uint32_t i = 0; i < btf_vlen(t); ++i) {
                const char* name = btf__name_by_offset(b, values[i].name_off);
                if (!name || name != enumerator) continue;
                // kind_flag set: signed enum; the value is an s32 either way in storage.
                return btf_kflag(t) ? std::int64_t{values[i].val}
                                    : std::int64_t{static_cast<std::uint32_t>(values[i].val)};
            }
        } else if (btf_is_enum64(t)) {
            const struct btf_enum64* values = btf_enum64(t);
            for (std::uint32_t i = 0; i < btf_vlen(t); ++i) {
                const char* name = btf__name_by_offset(b, values[i].name_off);
                if (name && name == enumerator) return static_cast<std::int64_t>(btf_enum64_value(&values[i]));
            }
        }
    }
    return std::nullopt;
}

std::size_t KernelBtf::type_count() const { return btf__type_cnt(btf_.get()) - 1; }

std::string KernelBtf::describe() const
{
    return fmt::format("BTF of '{}' ({}), {} types", origin_, container_, type_count());
}

} // namespace vmi
