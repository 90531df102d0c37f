// Structure layout from BTF: a small BTF made with libbpf, read raw, from an
// ELF .BTF section and through every kernel compression inside a bzImage;
// anonymous members, arrays, enums, bitfields, missing names, bad files; and
// the real Debian guest kernel checked against what pahole printed for it.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>

#include "KernelImageBuilder.hpp"
#include "ScopedEnv.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/types/BtfCache.hpp"
#include "vmi/types/KernelBtf.hpp"

using namespace vmi_test;
using vmi::KernelBtf;
using vmi::KernelCompression;

namespace {

std::string load_error(const Bytes& bytes, const std::string& origin)
{
    try {
        KernelBtf::from_buffer(bytes, origin);
    } catch (const vmi::Error& e) {
        return e.what();
    }
    return "(no error)";
}

// The demo layout, whatever container it came in.
void check_demo_layout(const KernelBtf& btf)
{
    CHECK(btf.member_offset("demo", "state") == 0u);
    CHECK(btf.member_offset("demo", "tasks") == 8u);
    CHECK(btf.member_offset("demo", "comm") == 32u);
    CHECK(btf.member_offset("demo", "core_layout.size") == 56u);
    CHECK(btf.member_offset("demo", "mem[2].size") == 64u + 2 * 16 + 8);
    CHECK(btf.array_length("demo", "comm") == 16u);
    CHECK(btf.array_length("demo", "mem") == 3u);
    CHECK(btf.struct_size("demo") == 120u);
    CHECK(btf.enum_value("MOD_MEM_NUM_TYPES") == 3);
}

using vmi_test::ScopedEnv;

} // namespace

static_assert(std::is_nothrow_move_constructible_v<KernelBtf>);
static_assert(std::is_nothrow_move_assignable_v<KernelBtf>);

TEST_CASE("raw BTF: offsets, sizes, arrays, enums")
{
    KernelBtf btf = KernelBtf::from_buffer(demo_btf(), "btf.raw");
    check_demo_layout(btf);
    CHECK(btf.origin() == "btf.raw");
    CHECK(btf.describe().find("BTF of 'btf.raw' (raw BTF), ") == 0);
    CHECK(btf.type_count() >= 20);

    CHECK(btf.member_size("demo", "state") == 4u); // through the u32 typedef
    CHECK(btf.member_size("demo", "comm") == 16u);
    CHECK(btf.member_size("demo", "mem") == 48u);
    CHECK(btf.member_size("demo", "mem[1]") == 16u);
    CHECK(btf.member_size("demo", "core_layout") == 16u);
    CHECK(btf.member_offset("demo", "core_layout") == 48u);
    CHECK(btf.member_offset("demo", "core_layout.text") == 60u);
    CHECK(btf.member_offset("demo", "mem[0]") == 64u);
    CHECK(btf.member_offset("list_head", "prev") == 8u);
    CHECK(btf.struct_size("list_head") == 16u);
    CHECK(btf.struct_size("mod_mem") == 16u);

    CHECK(btf.enum_value("MOD_TEXT") == 0);
    CHECK(btf.enum_value("MOD_DATA") == 1);
    CHECK(btf.enum_value("NEGATIVE") == -5);
}

TEST_CASE("members of anonymous structs and unions are found as direct members, however deep")
{
    KernelBtf btf = KernelBtf::from_buffer(demo_btf(), "btf.raw");
    CHECK(btf.member_offset("demo", "tasks") == 8u); // union member
    CHECK(btf.member_offset("demo", "pad") == 8u);   // struct inside that union
    CHECK(btf.member_offset("demo", "pid") == 12u);
    CHECK(btf.member_offset("demo", "tgid") == 16u); // union inside the struct inside the union
    CHECK(btf.member_offset("demo", "tg") == 16u);
    CHECK(btf.member_size("demo", "tg") == 8u);
    CHECK(btf.member_offset("demo", "tasks.prev") == 16u);
}

namespace {

// A hostile BTF (found by tests/fuzz): task_struct holds two anonymous
// members of its own type, and a chain of 30 structs each holds two
// anonymous members of the next. Searching every way through them took
// 2^32 steps: a tool asking for a missing member never answered.
Bytes self_nesting_btf()
{
    struct btf* btf = btf__new_empty();
    REQUIRE(btf);
    int int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
    int self = static_cast<int>(btf__type_cnt(btf));
    btf__add_struct(btf, "task_struct", 8);
    btf__add_field(btf, nullptr, self, 0, 0);
    btf__add_field(btf, nullptr, self, 0, 0);
    btf__add_field(btf, "pid", int_id, 32, 0);
    for (int level = 0; level < 30; ++level) {
        int next = static_cast<int>(btf__type_cnt(btf)) + 1;
        btf__add_struct(btf, level == 0 ? "chain" : nullptr, 8);
        btf__add_field(btf, nullptr, next, 0, 0);
        btf__add_field(btf, nullptr, next, 0, 0);
    }
    btf__add_struct(btf, nullptr, 8);
    btf__add_field(btf, "deep", int_id, 32, 0);
    std::uint32_t size = 0;
    auto raw = static_cast<const std::uint8_t*>(btf__raw_data(btf, &size));
    Bytes out(raw, raw + size);
    btf__free(btf);
    return out;
}

} // namespace

TEST_CASE("a struct nested in itself, or many times over, is searched once per type")
{
    KernelBtf btf = KernelBtf::from_buffer(self_nesting_btf(), "hostile.btf");
    CHECK(btf.member_offset("task_struct", "pid") == 4u);
    CHECK(!btf.member_offset("task_struct", "tasks"));
    CHECK(btf.member_offset("chain", "deep") == 4u);
    CHECK(!btf.member_offset("chain", "missing"));
}

TEST_CASE("a struct name shared by an empty placeholder and a definition means the definition")
{
    KernelBtf btf = KernelBtf::from_buffer(demo_btf(), "btf.raw");
    CHECK(btf.struct_size("demo_fwd") == 4u);
    CHECK(btf.member_offset("demo_fwd", "real") == 0u);
}

TEST_CASE("missing structs, members and indexes are nullopt; misuse throws")
{
    KernelBtf btf = KernelBtf::from_buffer(demo_btf(), "btf.raw");
    CHECK(!btf.member_offset("no_such_struct", "x"));
    CHECK(!btf.struct_size("no_such_struct"));
    CHECK(!btf.member_offset("demo", "no_such_member"));
    CHECK(!btf.member_offset("demo", "core_layout.no_such_member"));
    CHECK(!btf.member_offset("demo", "state.x"));     // an int has no members
    CHECK(!btf.member_offset("demo", "mem[3].size")); // past the end
    CHECK(!btf.member_size("demo", "nope"));
    CHECK(!btf.array_length("demo", "nope"));
    CHECK(!btf.enum_value("NO_SUCH_ENUMERATOR"));
    CHECK(!btf.enum_value(""));

    CHECK_THROWS_WITH_AS(btf.member_offset("demo", "flag"), "'btf.raw': demo.flag is a bitfield and has no byte offset",
                         vmi::Error);
    CHECK_THROWS_AS(btf.member_offset("demo", "other"), vmi::Error);
    CHECK_THROWS_WITH_AS(btf.array_length("demo", "state"), "'btf.raw': demo.state is not an array", vmi::Error);
    CHECK_THROWS_WITH_AS(btf.member_offset("demo", "state[0]"), "'btf.raw': demo.state[0]: 'state' is not an array",
                         vmi::Error);
    for (const char* bad : {"", ".", "a..b", "mem[", "mem[]", "mem[x]", "mem[1]x", "mem.", "mem[-1]"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(btf.member_offset("demo", bad), vmi::Error);
    }
}

TEST_CASE("ELF .BTF section, 64-bit and 32-bit (i386 kernels)")
{
    check_demo_layout(KernelBtf::from_buffer(elf_with_btf<true>(demo_btf(), filler(1000)), "vmlinux"));
    KernelBtf btf32 = KernelBtf::from_buffer(elf_with_btf<false>(demo_btf(), filler(1000)), "vmlinux-686");
    check_demo_layout(btf32);
    CHECK(btf32.describe().find("BTF of 'vmlinux-686' (vmlinux ELF), ") == 0);
}

TEST_CASE("bzImage -> decompress -> ELF -> BTF, for every kernel compression")
{
    TempDir dir;
    ScopedEnv no_cache("VMI_BTF_CACHE", "0");
    const Bytes vmlinux = demo_vmlinux();
    for (KernelCompression compression : ALL_COMPRESSIONS) {
        std::string name(vmi::compression_name(compression));
        CAPTURE(name);
        Bytes packed = compress(compression, vmlinux, dir);
        Bytes vmlinuz = fake_bzimage(with_size_appended(packed, static_cast<std::uint32_t>(vmlinux.size())));
        std::string path = dir.file("vmlinuz-" + name);
        write_bytes(path, vmlinuz);
        KernelBtf btf = KernelBtf::load(path);
        check_demo_layout(btf);
        CHECK(btf.describe().find("BTF of '" + path + "' (bzImage, " + name + "-compressed), ") == 0);

        KernelBtf bare = KernelBtf::from_buffer(packed, "vmlinux." + name);
        CHECK(bare.member_offset("demo", "pid") == 12u);
        CHECK(bare.describe().find("(" + name + "-compressed file)") != std::string::npos);
    }
}

TEST_CASE("the BTF of a compressed kernel is cached; a changed kernel or a bad entry is unpacked again")
{
    TempDir dir;
    ScopedEnv cache_dir("VMI_CACHE_DIR", dir.file("cache"));
    Bytes packed = compress(KernelCompression::gzip, demo_vmlinux(), dir);
    std::string path = dir.file("vmlinuz");
    write_bytes(path, fake_bzimage(with_size_appended(packed, static_cast<std::uint32_t>(demo_vmlinux().size()))));

    KernelBtf first = KernelBtf::load(path);
    CHECK(first.describe().find("(bzImage, gzip-compressed)") != std::string::npos);
    vmi::BtfCache cache(path);
    REQUIRE(cache.enabled());
    CHECK(cache.entry_path().rfind(dir.file("cache") + "/btf/", 0) == 0);
    REQUIRE(std::filesystem::exists(cache.entry_path()));

    KernelBtf second = KernelBtf::load(path);
    check_demo_layout(second);
    CHECK(second.describe().find("BTF from the cache") != std::string::npos);

    // A corrupt entry is ignored, and replaced.
    write_bytes(cache.entry_path(), Bytes{0x9f, 0xeb, 1, 0, 0xff});
    KernelBtf third = KernelBtf::load(path);
    check_demo_layout(third);
    CHECK(third.describe().find("(bzImage, gzip-compressed)") != std::string::npos);
    CHECK(KernelBtf::load(path).describe().find("BTF from the cache") != std::string::npos);

    // A rewritten kernel file is a different entry.
    std::filesystem::last_write_time(path, std::filesystem::last_write_time(path) + std::chrono::seconds(5));
    CHECK(vmi::BtfCache(path).entry_path() != cache.entry_path());

    ScopedEnv off("VMI_BTF_CACHE", "0");
    CHECK_FALSE(vmi::BtfCache(path).enabled());
}

TEST_CASE("bad BTF files: one clear error, no crash")
{
    TempDir dir;
    std::string absent = dir.file("absent");
    CHECK_THROWS_WITH_AS(KernelBtf::load(absent), doctest::Contains(("cannot open BTF file '" + absent + "'").c_str()),
                         vmi::Error);

    Bytes garbage(4096);
    std::mt19937 random(3);
    for (auto& b : garbage) b = static_cast<std::uint8_t>(random());
    garbage[0] = 0;
    CHECK(load_error(garbage, "junk").find("'junk': not a bzImage and no known kernel compression found") == 0);

    // BTF magic, then nonsense or a truncated copy.
    Bytes raw = demo_btf();
    Bytes bad_magic_only(garbage);
    bad_magic_only[0] = 0x9f, bad_magic_only[1] = 0xeb;
    CHECK(load_error(bad_magic_only, "btf").find("'btf': raw BTF is not valid BTF (") == 0);
    for (std::size_t keep : {std::size_t{2}, std::size_t{20}, raw.size() / 2, raw.size() - 1}) {
        CAPTURE(keep);
        Bytes cut(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(keep));
        CHECK(load_error(cut, "btf").find("'btf': raw BTF is not valid BTF (") == 0);
    }
    // A type section that is not 4-byte aligned (the kernel refuses it; libbpf 1.1
    // would hand out misaligned btf_type pointers): two zero bytes more in the
    // header, or in front of the types, with the header's lengths and offsets
    // moved to match, so that nothing else about the file is wrong.
    auto add = [](Bytes& b, std::size_t at, std::uint32_t more) {
        std::uint32_t value = 0;
        std::memcpy(&value, b.data() + at, sizeof value);
        value += more;
        std::memcpy(b.data() + at, &value, sizeof value);
    };
    Bytes long_header = raw;
    long_header.insert(long_header.begin() + 24, 2, 0);
    add(long_header, 4, 2); // hdr_len
    CHECK(load_error(long_header, "btf") ==
          "'btf': raw BTF is not valid BTF (its type section at header length 26 + offset 0 is not 4-byte aligned)");
    Bytes moved_types = raw;
    moved_types.insert(moved_types.begin() + 24, 2, 0);
    add(moved_types, 8, 2);  // type_off
    add(moved_types, 16, 2); // str_off
    CHECK(load_error(moved_types, "btf") ==
          "'btf': raw BTF is not valid BTF (its type section at header length 24 + offset 2 is not 4-byte aligned)");
    // Every single-byte corruption of the type section either parses (libbpf
    // validates what matters) or is refused; lookups on what parses stay safe.
    for (std::size_t at = 24; at < raw.size(); at += 3) {
        Bytes flipped = raw;
        flipped[at] ^= 0xff;
        try {
            KernelBtf btf = KernelBtf::from_buffer(flipped, "flipped");
            (void)btf.member_offset("demo", "mem[2].size");
            (void)btf.member_offset("demo", "tgid");
            (void)btf.array_length("demo", "comm");
            (void)btf.enum_value("MOD_TEXT");
        } catch (const vmi::Error&) {}
    }

    // An ELF without .BTF: a kernel built without CONFIG_DEBUG_INFO_BTF.
    Bytes elf = elf_with_btf<true>(raw, filler(100));
    Bytes no_btf = elf;
    const char* name = ".BTF";
    auto it = std::search(no_btf.begin(), no_btf.end(), name, name + 5);
    REQUIRE(it != no_btf.end());
    *(it + 1) = 'X';
    CHECK(load_error(no_btf, "vmlinux") ==
          "'vmlinux': ELF file has no .BTF section (kernel built without CONFIG_DEBUG_INFO_BTF)");
    Bytes cut_elf(elf.begin(), elf.begin() + static_cast<std::ptrdiff_t>(elf.size() - 40));
    CHECK(load_error(cut_elf, "vmlinux").find("'vmlinux': ELF section headers lie outside the file") == 0);

    // A bzImage whose compressed vmlinux is broken.
    Bytes packed = compress(KernelCompression::xz, elf, dir);
    Bytes cut_packed(packed.begin(), packed.begin() + static_cast<std::ptrdiff_t>(packed.size() / 2));
    CHECK(load_error(fake_bzimage(cut_packed), "vmlinuz") == "'vmlinuz': xz data truncated");
}

namespace {

// Loaded once: decompressing the real vmlinuz takes a moment under the sanitizers.
const KernelBtf* real_kernel_btf()
{
    static std::optional<KernelBtf> btf = [] {
        ScopedEnv no_cache("VMI_BTF_CACHE", "0"); // this test is about unpacking the real kernel
        std::string path = guest_kernel_path();
        return std::filesystem::exists(path) ? std::optional(KernelBtf::load(path)) : std::nullopt;
    }();
    return btf ? &*btf : nullptr;
}

} // namespace

// Debian 6.1.0-50-amd64; the numbers are pahole's (dwarves 1.24) on the same
// kernel: `pahole -C task_struct vmlinux` after unxz of the bzImage payload.
TEST_CASE("real Debian kernel: task_struct, module, page and mm_struct as pahole prints them")
{
    const KernelBtf* btf = real_kernel_btf();
    REQUIRE_MESSAGE(btf != nullptr, missing_guest_kernel());
    CHECK(btf->describe().find("(bzImage, xz-compressed), ") != std::string::npos);
    CHECK(btf->type_count() > 50000);

    CHECK(btf->member_offset("task_struct", "__state") == 24u);
    CHECK(btf->member_offset("task_struct", "tasks") == 2192u);
    CHECK(btf->member_offset("task_struct", "mm") == 2272u);
    CHECK(btf->member_offset("task_struct", "pid") == 2416u);
    CHECK(btf->member_offset("task_struct", "tgid") == 2420u);
    CHECK(btf->member_offset("task_struct", "real_parent") == 2432u);
    CHECK(btf->member_offset("task_struct", "comm") == 2976u);
    CHECK(btf->array_length("task_struct", "comm") == 16u);
    CHECK(btf->member_size("task_struct", "tasks") == 16u);
    CHECK(btf->struct_size("task_struct") == 9792u);
    CHECK_THROWS_AS(btf->member_offset("task_struct", "in_execve"), vmi::Error); // a bitfield

    CHECK(btf->member_offset("module", "state") == 0u);
    CHECK(btf->member_offset("module", "list") == 8u);
    CHECK(btf->member_offset("module", "name") == 24u);
    CHECK(btf->array_length("module", "name") == 56u);
    CHECK(btf->member_offset("module", "core_layout") == 320u);
    CHECK(btf->member_offset("module", "core_layout.size") == 328u);
    CHECK(btf->struct_size("module") == 896u);
    CHECK(!btf->member_offset("module", "mem")); // module_memory arrived in 6.4
    CHECK(!btf->enum_value("MOD_TEXT"));

    // Anonymous unions and structs, three levels deep in struct page.
    CHECK(btf->member_offset("page", "lru") == 8u);
    CHECK(btf->member_offset("page", "mlock_count") == 16u);
    CHECK(btf->member_offset("page", "mapping") == 24u);
    CHECK(btf->member_offset("page", "dma_addr_upper") == 40u);
    CHECK(btf->member_offset("mm_struct", "pgd") == 72u);

    CHECK(btf->enum_value("MODULE_STATE_LIVE") == 0);
    CHECK(btf->enum_value("MODULE_STATE_UNFORMED") == 3);
}

TEST_CASE("real Debian kernel: the same BTF read raw, as from /sys/kernel/btf/vmlinux")
{
    std::string path = guest_kernel_path();
    REQUIRE_MESSAGE(std::filesystem::exists(path), missing_guest_kernel());
    vmi::KernelImage image = vmi::decompress_kernel_image(read_bytes(path), path);
    // Cut the section out by hand, as objcopy -O binary --only-section=.BTF would.
    const KernelBtf* from_image = real_kernel_btf();
    REQUIRE(from_image);
    auto* header = reinterpret_cast<const Elf64_Ehdr*>(image.vmlinux.data());
    auto* sections = reinterpret_cast<const Elf64_Shdr*>(image.vmlinux.data() + header->e_shoff);
    const char* names = reinterpret_cast<const char*>(image.vmlinux.data() + sections[header->e_shstrndx].sh_offset);
    Bytes raw;
    for (int i = 0; i < header->e_shnum; ++i) {
        if (std::string_view(names + sections[i].sh_name) != ".BTF") continue;
        raw.assign(image.vmlinux.begin() + static_cast<std::ptrdiff_t>(sections[i].sh_offset),
                   image.vmlinux.begin() + static_cast<std::ptrdiff_t>(sections[i].sh_offset + sections[i].sh_size));
    }
    REQUIRE(!raw.empty());
    TempDir dir;
    write_bytes(dir.file("vmlinux.btf"), raw);
    KernelBtf btf = KernelBtf::load(dir.file("vmlinux.btf"));
    CHECK(btf.describe().find("(raw BTF)") != std::string::npos);
    CHECK(btf.type_count() == from_image->type_count());
    CHECK(btf.member_offset("task_struct", "tasks") == 2192u);
    CHECK(btf.member_offset("module", "core_layout.size") == 328u);
}
