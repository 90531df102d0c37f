#include "vmi/KernelBtf.hpp"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <elf.h>
#include <limits>

#include "vmi/BtfCache.hpp"
#include "vmi/Diagnostics.hpp"
#include "vmi/Error.hpp"
#include "vmi/KernelImage.hpp"
#include "vmi/MappedFile.hpp"

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

bool is_elf(std::span<const std::uint8_t> bytes) { return starts_with(bytes, "\x7f" "ELF"); }

// libbpf prints its complaints to stderr by default. Tools say one line per
// problem, so while libbpf parses, keep its last message for our own error.
class LibbpfMessages {
public:
    LibbpfMessages() : previous_(libbpf_set_print(&LibbpfMessages::keep)) { last().clear(); }
    ~LibbpfMessages() { libbpf_set_print(previous_); }
    LibbpfMessages(const LibbpfMessages&) = delete;
    LibbpfMessages& operator=(const LibbpfMessages&) = delete;

    static std::string& last()
    {
        thread_local std::string message;
        return message;
    }

private:
    static int keep(enum libbpf_print_level level, const char* format, va_list args)
    {
        if (level == LIBBPF_DEBUG) return 0;
        char buffer[512];
        int length = std::vsnprintf(buffer, sizeof buffer, format, args);
        if (length <= 0) return 0;
        std::string message(buffer);
        while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
        if (message.rfind("libbpf: ", 0) == 0) message.erase(0, 8);
        last() = message;
        return 0;
    }

    libbpf_print_fn_t previous_;
};

template <typename T>
T load(std::span<const std::uint8_t> bytes, std::uint64_t offset)
{
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

bool fits(std::span<const std::uint8_t> bytes, std::uint64_t offset, std::uint64_t size)
{
    return offset <= bytes.size() && size <= bytes.size() - offset;
}

struct SectionHeader {
    std::uint32_t name = 0;
    std::uint32_t type = 0;
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    std::uint32_t link = 0;
};

template <typename Ehdr, typename Shdr>
std::optional<std::span<const std::uint8_t>> find_section(std::span<const std::uint8_t> elf, std::string_view wanted,
                                                          const std::string& origin)
{
    if (elf.size() < sizeof(Ehdr)) fail("'{}': ELF header truncated", origin);
    auto header = load<Ehdr>(elf, 0);
    if (header.e_shoff == 0) return std::nullopt;
    if (header.e_shentsize < sizeof(Shdr)) fail("'{}': ELF section header size {} is too small", origin,
                                                header.e_shentsize);
    auto section = [&](std::uint64_t index) {
        std::uint64_t at = header.e_shoff + index * header.e_shentsize;
        if (!fits(elf, at, sizeof(Shdr))) fail("'{}': ELF section headers lie outside the file: truncated?", origin);
        auto s = load<Shdr>(elf, at);
        return SectionHeader{s.sh_name, s.sh_type, s.sh_offset, s.sh_size, s.sh_link};
    };
    // Extended numbering: past 0xff00 sections the real counts sit in section 0.
    std::uint64_t count = header.e_shnum ? header.e_shnum : section(0).size;
    std::uint64_t names_index = header.e_shstrndx == SHN_XINDEX ? section(0).link : header.e_shstrndx;
    if (count > elf.size() / sizeof(Shdr)) fail("'{}': ELF claims {} sections: corrupt", origin, count);
    if (names_index >= count) fail("'{}': ELF section name table index {} out of range", origin, names_index);
    SectionHeader names = section(names_index);
    if (!fits(elf, names.offset, names.size)) fail("'{}': ELF section names lie outside the file", origin);
    std::span<const std::uint8_t> name_table = elf.subspan(names.offset, names.size);

    for (std::uint64_t i = 1; i < count; ++i) {
        SectionHeader s = section(i);
        if (s.name >= name_table.size()) continue;
        const char* start = reinterpret_cast<const char*>(name_table.data() + s.name);
        std::string_view name(start, strnlen(start, name_table.size() - s.name));
        if (name != wanted) continue;
        if (s.type == SHT_NOBITS || !fits(elf, s.offset, s.size))
            fail("'{}': ELF section {} lies outside the file: truncated?", origin, wanted);
        return elf.subspan(s.offset, s.size);
    }
    return std::nullopt;
}

std::span<const std::uint8_t> btf_section(std::span<const std::uint8_t> elf, const std::string& origin,
                                          std::string_view what)
{
    if (elf.size() < EI_NIDENT) fail("'{}': {} is truncated", origin, what);
    if (elf[EI_DATA] != ELFDATA2LSB) fail("'{}': {} is not little-endian (not an x86 kernel)", origin, what);
    std::optional<std::span<const std::uint8_t>> section;
    if (elf[EI_CLASS] == ELFCLASS64)
        section = find_section<Elf64_Ehdr, Elf64_Shdr>(elf, ".BTF", origin);
    else if (elf[EI_CLASS] == ELFCLASS32)
        section = find_section<Elf32_Ehdr, Elf32_Shdr>(elf, ".BTF", origin);
    else
        fail("'{}': {} has unknown ELF class {}", origin, what, elf[EI_CLASS]);
    if (!section) fail("'{}': {} has no .BTF section (kernel built without CONFIG_DEBUG_INFO_BTF)", origin, what);
    return *section;
}

struct btf* parse_btf(std::span<const std::uint8_t> data, const std::string& origin, std::string_view what)
{
    if (data.size() > std::numeric_limits<std::uint32_t>::max()) fail("'{}': {} is larger than 4 GiB", origin, what);
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
// members too, the way C lets code name them.
std::optional<FoundMember> find_member(const struct btf* btf, std::uint32_t composite, std::string_view name,
                                       int depth = 0)
{
    const btf_type* t = btf__type_by_id(btf, composite);
    if (!t || !btf_is_composite(t) || depth > MAX_ANONYMOUS_DEPTH) return std::nullopt;
    const btf_member* members = btf_members(t);
    for (std::uint32_t i = 0; i < btf_vlen(t); ++i) {
        const char* member_name = btf__name_by_offset(btf, members[i].name_off);
        std::uint64_t bit_offset = btf_member_bit_offset(t, i);
        if (member_name && *member_name) {
            if (member_name != name) continue;
            bool bitfield = btf_member_bitfield_size(t, i) != 0 || (!btf_kflag(t) && int_is_bitfield(btf, members[i].type));
            return FoundMember{members[i].type, bit_offset, bitfield};
        }
        int inner = btf__resolve_type(btf, members[i].type);
        if (inner <= 0) continue;
        if (std::optional<FoundMember> found = find_member(btf, static_cast<std::uint32_t>(inner), name, depth + 1)) {
            found->bit_offset += bit_offset;
            return found;
        }
    }
    return std::nullopt;
}

// One step of a member path: "mem[2]" is name "mem" with index 2.
struct PathStep {
    std::string_view name;
    std::vector<std::uint64_t> indexes;
};

std::vector<PathStep> parse_path(std::string_view path)
{
    auto bad = [&](std::string_view why) -> void { fail("bad BTF member path '{}': {}", path, why); };
    std::vector<PathStep> steps;
    std::size_t pos = 0;
    for (;;) {
        PathStep step;
        std::size_t end = path.find_first_of(".[", pos);
        step.name = path.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        if (step.name.empty()) bad("empty member name");
        pos = end == std::string_view::npos ? path.size() : end;
        while (pos < path.size() && path[pos] == '[') {
            std::size_t close = path.find(']', pos);
            if (close == std::string_view::npos) bad("missing ']'");
            std::string_view digits = path.substr(pos + 1, close - pos - 1);
            if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos)
                bad("index is not a number");
            std::uint64_t index = 0;
            for (char c : digits) index = index * 10 + static_cast<std::uint64_t>(c - '0');
            step.indexes.push_back(index);
            pos = close + 1;
        }
        steps.push_back(step);
        if (pos == path.size()) return steps;
        if (path[pos] != '.') bad("expected '.' or '['");
        ++pos;
    }
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
    std::vector<PathStep> steps = parse_path(path);
    std::optional<std::uint32_t> composite = find_composite(struct_name);
    if (!composite) return std::nullopt;
    const struct btf* b = btf_.get();
    auto corrupt = [&]() -> void { fail("'{}': BTF for {}.{} is corrupt", origin_, struct_name, path); };

    Member member{*composite, 0};
    std::uint64_t bit_offset = 0;
    for (const PathStep& step : steps) {
        int resolved = btf__resolve_type(b, member.type);
        if (resolved <= 0) return std::nullopt;
        std::optional<FoundMember> found = find_member(b, static_cast<std::uint32_t>(resolved), step.name);
        if (!found) return std::nullopt;
        if (found->bitfield)
            fail("'{}': {}.{} is a bitfield and has no byte offset", origin_, struct_name, path);
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
                return btf_kflag(t) ? std::int64_t{values[i].val} : std::int64_t{static_cast<std::uint32_t>(values[i].val)};
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
