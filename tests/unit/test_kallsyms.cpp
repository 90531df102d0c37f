// The kernel's own kallsyms tables in guest memory: found in every layout
// and encoding scripts/kallsyms.c has written (KallsymsTableBuilder.hpp),
// decoded to what /proc/kallsyms would print, looked up name by name; and
// hostile memory (truncated tables, bad markers, huge counts, names that
// expand too far, forged copies) never believed, never a crash.
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "FakeMemory.hpp"
#include "KallsymsTableBuilder.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/linux/Kallsyms.hpp"
#include "vmi/symbols/SymbolTable.hpp"

using vmi::KallsymsEncoding;
using vmi::KallsymsLocation;
using vmi_test::FakeMemory;
using vmi_test::KallsymsAddressing;
using vmi_test::KallsymsBlob;
using vmi_test::KallsymsBuild;
using vmi_test::KallsymsLayout;
using vmi_test::KallsymsSymbolSpec;
using vmi_test::KallsymsTableBuilder;

namespace {

constexpr std::uint64_t RAM_SIZE = 24 << 20;
constexpr std::uint64_t IMAGE_PA = 0x400000;  // _text
constexpr std::uint64_t TABLES_PA = 0x900000; // in the image's .rodata
constexpr std::uint64_t BANNER_OFFSET = 0x480000;
constexpr std::uint64_t DATA_OFFSET = 0xa00000;

// A small kernel: its image mapped at VA = PA + va_minus_pa, text, a banner
// in rodata, data with empty list heads (pointing to themselves) and more
// than 256 symbols, so several markers.
struct Kernel {
    unsigned pointer_size = 8;
    std::uint64_t va_minus_pa = 0;
    bool percpu = false;
    bool digits = true; // names with every digit (the scan's fast anchor)
    std::vector<KallsymsSymbolSpec> symbols;
    std::vector<std::uint64_t> list_heads; // VAs that hold themselves

    std::uint64_t va(std::uint64_t pa) const { return pa + va_minus_pa; }
};

Kernel make_kernel(unsigned pointer_size, std::uint64_t slide, bool percpu, bool digits = true)
{
    Kernel k;
    k.pointer_size = pointer_size;
    k.va_minus_pa = (pointer_size == 8 ? 0xffffffff81000000ULL : 0xc1000000ULL) + slide - IMAGE_PA;
    k.percpu = percpu;
    k.digits = digits;
    if (percpu) {
        k.symbols.push_back({0, 'A', "fixed_percpu_data", true});
        k.symbols.push_back({0, 'A', "__per_cpu_start", true});
        k.symbols.push_back({0x1000, 'A', "cpu_debug_store", true});
        k.symbols.push_back({0x2c000, 'A', "__per_cpu_end", true});
    }
    std::uint64_t text = k.va(IMAGE_PA);
    k.symbols.push_back({text, 'T', "_text"});
    k.symbols.push_back({text, 'T', pointer_size == 8 ? "startup_64" : "startup_32"});
    k.symbols.push_back({text + 0x1000, 'T', "_stext"});
    const char* prefixes[] = {"ext", "tcp_v", "sha", "x86_", "do_sys_", "vfs_", "i8042_", "crc"};
    for (int i = 0; i < 1200; ++i) {
        std::string name = fmt::format("{}{}_{}", prefixes[i % 8], i % 10, i);
        if (!digits) // no '7' anywhere: the second pass has to find the table
            for (char& c : name)
                if (c == '7') c = 'x';
        k.symbols.push_back({text + 0x2000 + 0x40 * static_cast<std::uint64_t>(i), i % 3 ? 't' : 'T', name});
    }
    // The same static name twice, and one name too long for a 1-byte length.
    k.symbols.push_back({text + 0x80000, 't', "cleanup"});
    k.symbols.push_back({text + 0x80100, 't', "cleanup"});
    k.symbols.push_back({text + 0x80200, 'T', "long_" + std::string(200, 'q') + "_name"});
    k.symbols.push_back({k.va(IMAGE_PA + BANNER_OFFSET), 'D', "linux_banner"});
    for (int i = 0; i < 300; ++i) {
        std::uint64_t va = k.va(IMAGE_PA + DATA_OFFSET) + 0x40 * static_cast<std::uint64_t>(i);
        k.symbols.push_back({va, i % 2 ? 'd' : 'b', fmt::format("list{}_{}", i % 10, i)});
        if (i % 3 == 0) k.list_heads.push_back(va);
    }
    k.symbols.push_back({k.va(IMAGE_PA + DATA_OFFSET + 0x10000), 'D', "init_task"});
    k.symbols.push_back({k.va(IMAGE_PA + DATA_OFFSET + 0x20000), 'B', "_end"});
    return k;
}

void put_pointer(FakeMemory& memory, std::uint64_t pa, std::uint64_t value, unsigned size)
{
    if (size == 8) memory.put64(pa, value);
    else memory.put32(pa, static_cast<std::uint32_t>(value));
}

// Writes the kernel's image bits (banner, list heads) and its tables.
KallsymsBlob install(FakeMemory& memory, const Kernel& k, const KallsymsBuild& build, std::uint64_t at = TABLES_PA)
{
    memory.put_bytes(IMAGE_PA + BANNER_OFFSET, "Linux version 6.1.0-test (synthetic)");
    for (std::uint64_t va : k.list_heads) {
        put_pointer(memory, va - k.va_minus_pa, va, k.pointer_size);
        put_pointer(memory, va - k.va_minus_pa + k.pointer_size, va, k.pointer_size);
    }
    KallsymsBuild b = build;
    b.pointer_size = k.pointer_size;
    b.image_va_minus_pa = k.va_minus_pa;
    KallsymsBlob blob = KallsymsTableBuilder(k.symbols).build(b, at);
    memory.put_bytes(at, {reinterpret_cast<const char*>(blob.bytes.data()), blob.bytes.size()});
    return blob;
}

std::string kallsyms_text(const vmi::SymbolTable& table, unsigned pointer_size)
{
    std::string text;
    for (const vmi::Symbol& s : table.symbols())
        text += fmt::format("{:0{}x} {} {}\n", s.address, pointer_size * 2, s.type, s.name);
    return text;
}

std::string expected_text(const Kernel& k)
{
    KallsymsTableBuilder sorted(k.symbols);
    std::string text;
    for (const KallsymsSymbolSpec& s : sorted.symbols())
        text += fmt::format("{:0{}x} {} {}\n", s.address, k.pointer_size * 2, s.type, s.name);
    return text;
}

struct Shape {
    const char* what;
    KallsymsLayout layout;
    KallsymsAddressing addressing;
    unsigned pointer_size;
    bool seqs;
    KallsymsEncoding encoding;
};

const Shape SHAPES[] = {
    {"6.1 x86-64 (Debian: seqs backported)", KallsymsLayout::V6_1, KallsymsAddressing::AbsolutePercpu, 8, true,
     KallsymsEncoding::AbsolutePercpu},
    {"6.1 x86-64 without seqs_of_names", KallsymsLayout::V6_1, KallsymsAddressing::AbsolutePercpu, 8, false,
     KallsymsEncoding::AbsolutePercpu},
    {"6.1 i386", KallsymsLayout::V6_1, KallsymsAddressing::Relative, 4, true, KallsymsEncoding::Relative},
    {"6.1 64-bit without ABSOLUTE_PERCPU", KallsymsLayout::V6_1, KallsymsAddressing::Relative, 8, false,
     KallsymsEncoding::Relative},
    {"6.1 without BASE_RELATIVE", KallsymsLayout::V6_1, KallsymsAddressing::Absolute, 8, false,
     KallsymsEncoding::Absolute},
    {"6.12 x86-64", KallsymsLayout::V6_4, KallsymsAddressing::AbsolutePercpu, 8, true,
     KallsymsEncoding::AbsolutePercpu},
    {"6.15 x86-64", KallsymsLayout::V6_4, KallsymsAddressing::Relative, 8, true, KallsymsEncoding::Relative},
    {"6.12 i386", KallsymsLayout::V6_4, KallsymsAddressing::Relative, 4, true, KallsymsEncoding::Relative},
    {"6.4 without BASE_RELATIVE", KallsymsLayout::V6_4, KallsymsAddressing::Absolute, 8, true,
     KallsymsEncoding::Absolute},
    {"7.x x86-64", KallsymsLayout::V7, KallsymsAddressing::PlaceRelative, 8, true, KallsymsEncoding::PlaceRelative},
    {"7.x i386 relocatable", KallsymsLayout::V7, KallsymsAddressing::PlaceRelative, 4, true,
     KallsymsEncoding::PlaceRelative},
    {"7.x i386 not relocatable", KallsymsLayout::V7, KallsymsAddressing::Absolute, 4, true, KallsymsEncoding::Absolute},
};

Kernel kernel_for(const Shape& shape, std::uint64_t slide = 0x3c00000)
{
    return make_kernel(shape.pointer_size, shape.pointer_size == 8 ? slide : slide & 0xffffff,
                       shape.addressing == KallsymsAddressing::AbsolutePercpu);
}

KallsymsBuild build_for(const Shape& shape)
{
    return {shape.layout, shape.addressing, shape.pointer_size, shape.seqs, 0};
}

} // namespace

TEST_CASE("kallsyms: every layout and encoding is found where scripts/kallsyms.c put it, and decodes exactly")
{
    for (const Shape& shape : SHAPES) {
        CAPTURE(shape.what);
        Kernel k = kernel_for(shape);
        FakeMemory memory({{0, RAM_SIZE}});
        KallsymsBlob blob = install(memory, k, build_for(shape));

        std::vector<KallsymsLocation> found = vmi::find_kallsyms(memory);
        REQUIRE(found.size() == 1);
        const KallsymsLocation& at = found.front();
        CHECK(at.count == blob.count);
        CHECK(at.pointer_size == shape.pointer_size);
        CHECK(at.alignment == (shape.layout == KallsymsLayout::V7 ? 4U : shape.pointer_size));
        CHECK(at.encoding == shape.encoding);
        CHECK(at.num_syms_pa == blob.num_syms);
        CHECK(at.names_pa == blob.names);
        CHECK(at.names_size == blob.names_size);
        CHECK(at.markers_pa == blob.markers);
        CHECK(at.token_table_pa == blob.token_table);
        CHECK(at.token_index_pa == blob.token_index);
        CHECK(at.addresses_pa == blob.addresses);
        CHECK(at.relative_base_pa.has_value() == blob.has_relative_base);
        if (blob.has_relative_base) CHECK(*at.relative_base_pa == blob.relative_base);
        CHECK(at.seqs_of_names_pa.has_value() == shape.seqs);
        if (shape.seqs) CHECK(*at.seqs_of_names_pa == blob.seqs);
        REQUIRE(at.image_va_minus_pa.has_value());
        CHECK(*at.image_va_minus_pa == k.va_minus_pa);
        CHECK(at.inside_image);
        CHECK(at.describe().find(std::to_string(blob.count) + " symbols") != std::string::npos);

        vmi::SymbolTable table = vmi::decode_kallsyms(memory, at, "kallsyms in guest memory");
        CHECK(kallsyms_text(table, k.pointer_size) == expected_text(k));
        CHECK(table.origin() == "kallsyms in guest memory");
        CHECK(table.require("init_task").type == 'D');
    }
}

TEST_CASE("kallsyms: lookups without decoding the table, with and without seqs_of_names")
{
    for (const Shape& shape : SHAPES) {
        CAPTURE(shape.what);
        Kernel k = kernel_for(shape);
        FakeMemory memory({{0, RAM_SIZE}});
        install(memory, k, build_for(shape));
        std::vector<KallsymsLocation> found = vmi::find_kallsyms(memory);
        REQUIRE(found.size() == 1);
        vmi::SymbolTable table = vmi::decode_kallsyms(memory, found.front(), "decoded");
        vmi::KallsymsReader reader(memory, found.front());
        REQUIRE(reader.size() == table.size());

        // Every name, one by one, as SymbolTable::find answers it.
        for (std::uint32_t i = 0; i < reader.size(); i += 7) {
            std::string name = reader.name(i);
            std::optional<vmi::KallsymsSymbol> hit = reader.lookup(name);
            REQUIRE(hit);
            CHECK(hit->address == table.require(name).address);
            CHECK(hit->type == table.require(name).type);
        }
        std::vector<std::string_view> wanted = {"init_task",    "cleanup", "no_such_symbol",
                                                "linux_banner", "_text",   "init_top_pgt"};
        std::vector<std::optional<vmi::KallsymsSymbol>> hits = vmi::kallsyms_lookup(memory, found.front(), wanted);
        REQUIRE(hits.size() == wanted.size());
        CHECK(hits[0]->address == table.require("init_task").address);
        CHECK(hits[1]->address == k.va(IMAGE_PA) + 0x80000); // the first of two equal names: lowest address
        CHECK_FALSE(hits[2]);
        CHECK(hits[3]->type == 'D');
        CHECK(hits[4]->address == k.va(IMAGE_PA));
        CHECK_FALSE(hits[5]);
        CHECK(reader.symbol(hits[0]->index).address == hits[0]->address);
        CHECK_THROWS_AS(reader.symbol(reader.size()), vmi::Error);
    }
}

TEST_CASE("kallsyms: KASLR moves the addresses, not the fingerprint")
{
    const Shape& shape = SHAPES[0];
    FakeMemory a({{0, RAM_SIZE}}), b({{0, RAM_SIZE}});
    Kernel ka = kernel_for(shape, 0), kb = kernel_for(shape, 0x24200000);
    install(a, ka, build_for(shape));
    install(b, kb, build_for(shape), TABLES_PA + 0x10000);
    KallsymsLocation la = vmi::find_kallsyms(a).at(0), lb = vmi::find_kallsyms(b).at(0);
    CHECK(la.fingerprint == lb.fingerprint);
    CHECK(la.relative_base + 0x24200000 == lb.relative_base);
    CHECK(vmi::kallsyms_lookup(b, lb, "init_task")->address ==
          vmi::kallsyms_lookup(a, la, "init_task")->address + 0x24200000);

    Kernel other = ka;
    other.symbols.push_back({ka.va(IMAGE_PA) + 0x90000, 'T', "one_more"});
    FakeMemory c({{0, RAM_SIZE}});
    install(c, other, build_for(shape));
    CHECK(vmi::find_kallsyms(c).at(0).fingerprint != la.fingerprint);
}

TEST_CASE("kallsyms: the image's VA - PA for 7.x tables comes from the search when given")
{
    const Shape& shape = SHAPES[9]; // 7.x x86-64
    Kernel k = kernel_for(shape);
    k.list_heads.clear(); // nothing to vote with
    FakeMemory memory({{0, RAM_SIZE}});
    install(memory, k, build_for(shape));
    std::vector<KallsymsLocation> found = vmi::find_kallsyms(memory);
    REQUIRE(found.size() == 1);
    CHECK_FALSE(found[0].image_va_minus_pa);
    CHECK_THROWS_WITH_AS(vmi::decode_kallsyms(memory, found[0], "x"), doctest::Contains("virtual address"), vmi::Error);

    vmi::KallsymsSearch search;
    search.image_va_minus_pa = k.va_minus_pa;
    found = vmi::find_kallsyms(memory, search);
    REQUIRE(found.size() == 1);
    CHECK(kallsyms_text(vmi::decode_kallsyms(memory, found[0], "x"), 8) == expected_text(k));
}

TEST_CASE("kallsyms: a kernel whose names lack a digit is found by the token index's shape")
{
    Kernel k = make_kernel(8, 0x1000000, true, false);
    FakeMemory memory({{0, RAM_SIZE}});
    install(memory, k, build_for(SHAPES[0]));
    std::vector<KallsymsLocation> found = vmi::find_kallsyms(memory);
    REQUIRE(found.size() == 1);
    CHECK(kallsyms_text(vmi::decode_kallsyms(memory, found[0], "x"), 8) == expected_text(k));
}

TEST_CASE("kallsyms: the pointer size can be imposed")
{
    Kernel k = kernel_for(SHAPES[2]); // 6.1 i386
    FakeMemory memory({{0, RAM_SIZE}});
    install(memory, k, build_for(SHAPES[2]));
    vmi::KallsymsSearch search;
    search.pointer_size = 8;
    CHECK(vmi::find_kallsyms(memory, search).empty());
    search.pointer_size = 4;
    CHECK(vmi::find_kallsyms(memory, search).size() == 1);
    search.pointer_size = 3;
    CHECK_THROWS_AS(vmi::find_kallsyms(memory, search), vmi::Error);
}

TEST_CASE("kallsyms: memory without tables, or with a lone token table, gives nothing")
{
    FakeMemory empty({{0, 1 << 20}});
    CHECK(vmi::find_kallsyms(empty).empty());

    // A token table with its index and nothing before it.
    Kernel k = kernel_for(SHAPES[5]);
    FakeMemory memory({{0, RAM_SIZE}});
    KallsymsBlob blob = install(memory, k, build_for(SHAPES[5]));
    FakeMemory lone({{0, RAM_SIZE}});
    std::string tokens = memory.get_bytes(blob.token_table, blob.token_index + 512 - blob.token_table);
    lone.put_bytes(0x100000, tokens);
    lone.put_bytes(0x300000, "0\0"
                             "1\0"
                             "2\0"
                             "3\0"
                             "4\0"
                             "5\0"
                             "6\0"
                             "7\0"
                             "8\0"
                             "9\0"); // a bare anchor
    CHECK(vmi::find_kallsyms(lone).empty());
}

namespace {

// The tables of `shape`, then `damage` applied to them; find must not crash
// and must not offer a table that decodes to anything else.
void check_damaged(const Shape& shape, const std::function<void(FakeMemory&, const KallsymsBlob&)>& damage,
                   bool still_found)
{
    Kernel k = kernel_for(shape);
    FakeMemory memory({{0, RAM_SIZE}});
    KallsymsBlob blob = install(memory, k, build_for(shape));
    damage(memory, blob);
    std::vector<KallsymsLocation> found;
    CHECK_NOTHROW(found = vmi::find_kallsyms(memory));
    CHECK(found.size() == (still_found ? 1U : 0U));
    if (still_found && !found.empty())
        CHECK(kallsyms_text(vmi::decode_kallsyms(memory, found[0], "x"), k.pointer_size) == expected_text(k));
}

} // namespace

TEST_CASE("kallsyms: hostile and broken tables are not believed")
{
    for (const Shape& shape : {SHAPES[0], SHAPES[5], SHAPES[9]}) {
        CAPTURE(shape.what);
        SUBCASE("a marker off by one")
        {
            check_damaged(
                shape, [](FakeMemory& m, const KallsymsBlob& b) { m.put32(b.markers + 4, m.get32(b.markers + 4) + 1); },
                false);
        }
        SUBCASE("markers that go backwards")
        {
            check_damaged(
                shape, [](FakeMemory& m, const KallsymsBlob& b) { m.put32(b.markers + 8, 1); }, false);
        }
        SUBCASE("a huge num_syms")
        {
            check_damaged(
                shape, [](FakeMemory& m, const KallsymsBlob& b) { m.put32(b.num_syms, 0x7fffffff); }, false);
        }
        SUBCASE("num_syms one too many")
        {
            check_damaged(
                shape, [](FakeMemory& m, const KallsymsBlob& b) { m.put32(b.num_syms, b.count + 1); }, false);
        }
        SUBCASE("a name that runs past the table")
        {
            check_damaged(
                shape, [](FakeMemory& m, const KallsymsBlob& b) { m.put_bytes(b.names, "\x7f"); }, false);
        }
        SUBCASE("a name that expands past KSYM_NAME_LEN")
        {
            Kernel k = kernel_for(shape);
            k.symbols.push_back({k.va(IMAGE_PA) + 0x90000, 'T', std::string(600, 'q')});
            FakeMemory memory({{0, RAM_SIZE}});
            install(memory, k, build_for(shape));
            CHECK(vmi::find_kallsyms(memory).empty());
        }
        SUBCASE("a token with a control character")
        {
            check_damaged(
                shape,
                [](FakeMemory& m, const KallsymsBlob& b) {
                    std::uint32_t t = m.get32(b.token_index) >> 16; // token 1's offset
                    m.put_bytes(b.token_table + t, "\x1b");
                },
                false);
        }
        SUBCASE("addresses out of order")
        {
            check_damaged(
                shape,
                [](FakeMemory& m, const KallsymsBlob& b) {
                    std::uint32_t a = m.get32(b.addresses + 400), c = m.get32(b.addresses + 800);
                    m.put32(b.addresses + 400, c);
                    m.put32(b.addresses + 800, a);
                },
                false);
        }
        SUBCASE("tables cut off by the end of RAM")
        {
            Kernel k = kernel_for(shape);
            KallsymsBlob sized = KallsymsTableBuilder(k.symbols).build(build_for(shape), 0);
            std::uint64_t at = (RAM_SIZE - sized.bytes.size()) & ~std::uint64_t{7};
            FakeMemory memory({{0, RAM_SIZE}});
            install(memory, k, build_for(shape), at);
            FakeMemory cut({{0, RAM_SIZE - 64}});
            cut.put_bytes(0, memory.get_bytes(0, RAM_SIZE - 64));
            std::vector<KallsymsLocation> found;
            CHECK_NOTHROW(found = vmi::find_kallsyms(cut));
            if (!found.empty()) CHECK_FALSE(found[0].seqs_of_names_pa); // only a trailing seqs can be cut
        }
        SUBCASE("seqs_of_names that is not a permutation: found without it, lookups still right")
        {
            Kernel k = kernel_for(shape);
            FakeMemory memory({{0, RAM_SIZE}});
            KallsymsBlob blob = install(memory, k, build_for(shape));
            memory.put_bytes(blob.seqs, std::string(6, '\0')); // index 0 twice
            std::vector<KallsymsLocation> found = vmi::find_kallsyms(memory);
            REQUIRE(found.size() == 1);
            CHECK_FALSE(found[0].seqs_of_names_pa);
            CHECK(vmi::kallsyms_lookup(memory, found[0], "init_task"));
            CHECK(kallsyms_text(vmi::decode_kallsyms(memory, found[0], "x"), k.pointer_size) == expected_text(k));
        }
    }
}

TEST_CASE("kallsyms: seqs_of_names reordered to hide a name does not hide it")
{
    const Shape& shape = SHAPES[5];
    Kernel k = kernel_for(shape);
    FakeMemory memory({{0, RAM_SIZE}});
    KallsymsBlob blob = install(memory, k, build_for(shape));
    KallsymsLocation location = vmi::find_kallsyms(memory).at(0);
    vmi::KallsymsReader reader(memory, location);
    std::uint32_t index = reader.lookup("init_task")->index;
    // Swap init_task's seq with the first one: a permutation still, no longer sorted.
    std::string seqs = memory.get_bytes(blob.seqs, 3 * blob.count);
    std::size_t at = 0;
    auto seq = [&](std::size_t p) {
        auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<std::uint8_t>(seqs[i])); };
        return (byte(3 * p) << 16) | (byte(3 * p + 1) << 8) | byte(3 * p + 2);
    };
    for (std::size_t p = 0; p < blob.count; ++p)
        if (seq(p) == index) at = p;
    std::swap_ranges(seqs.begin(), seqs.begin() + 3, seqs.begin() + 3 * static_cast<std::ptrdiff_t>(at));
    memory.put_bytes(blob.seqs, seqs);
    std::optional<vmi::KallsymsSymbol> hit = vmi::kallsyms_lookup(memory, location, "init_task");
    REQUIRE(hit);
    CHECK(hit->index == index);
}

TEST_CASE("kallsyms: a forged copy outside the kernel image ranks below the real tables")
{
    for (const Shape& shape : {SHAPES[0], SHAPES[9]}) {
        CAPTURE(shape.what);
        Kernel k = kernel_for(shape);
        FakeMemory memory({{0, RAM_SIZE}});
        KallsymsBlob real = install(memory, k, build_for(shape));
        // The same tables with init_task moved, far outside the image.
        Kernel forged = k;
        for (KallsymsSymbolSpec& s : forged.symbols)
            if (s.name == "init_task") s.address += 0x100;
        KallsymsBuild build = build_for(shape);
        build.pointer_size = k.pointer_size;
        build.image_va_minus_pa = k.va_minus_pa;
        KallsymsBlob copy = KallsymsTableBuilder(forged.symbols).build(build, 0x100000);
        memory.put_bytes(0x100000, {reinterpret_cast<const char*>(copy.bytes.data()), copy.bytes.size()});

        std::vector<KallsymsLocation> found = vmi::find_kallsyms(memory);
        REQUIRE(found.size() == 2);
        CHECK(found[0].token_table_pa == real.token_table);
        CHECK(found[0].inside_image);
        CHECK(found[1].token_table_pa == copy.token_table);
        CHECK_FALSE(found[1].inside_image);
    }
}

TEST_CASE("kallsyms: tables that change after they were found are an error, not a crash")
{
    const Shape& shape = SHAPES[5];
    Kernel k = kernel_for(shape);
    FakeMemory memory({{0, RAM_SIZE}});
    KallsymsBlob blob = install(memory, k, build_for(shape));
    KallsymsLocation location = vmi::find_kallsyms(memory).at(0);
    std::uint32_t marker = memory.get32(blob.markers + 4);
    memory.put32(blob.markers + 4, marker + 3);
    CHECK_THROWS_AS(vmi::KallsymsReader(memory, location), vmi::Error);
    memory.put32(blob.markers + 4, marker);
    CHECK(vmi::KallsymsReader(memory, location).size() == blob.count);
    KallsymsLocation moved = location;
    moved.names_pa = RAM_SIZE - 16;
    CHECK_THROWS_AS(vmi::decode_kallsyms(memory, moved, "x"), vmi::Error);
    moved = location;
    moved.count = 0;
    CHECK_THROWS_AS(vmi::decode_kallsyms(memory, moved, "x"), vmi::Error);
}

TEST_CASE("kallsyms: first_only stops at the first tables inside their image")
{
    const Shape& shape = SHAPES[0];
    Kernel k = kernel_for(shape);
    FakeMemory memory({{0, RAM_SIZE}});
    KallsymsBlob real = install(memory, k, build_for(shape));
    // A copy below the real tables (outside the image: scanned first, not
    // placed) and one above them (never reached).
    KallsymsBuild build = build_for(shape);
    build.pointer_size = k.pointer_size;
    KallsymsBlob low = KallsymsTableBuilder(k.symbols).build(build, 0x100000);
    memory.put_bytes(0x100000, {reinterpret_cast<const char*>(low.bytes.data()), low.bytes.size()});
    KallsymsBlob high = KallsymsTableBuilder(k.symbols).build(build, 0x1200000);
    memory.put_bytes(0x1200000, {reinterpret_cast<const char*>(high.bytes.data()), high.bytes.size()});

    CHECK(vmi::find_kallsyms(memory).size() == 3);
    vmi::KallsymsSearch search;
    search.first_only = true;
    std::vector<KallsymsLocation> found = vmi::find_kallsyms(memory, search);
    REQUIRE(found.size() == 2); // the stray copy below, then the real tables
    CHECK(found[0].token_table_pa == real.token_table);
    CHECK(found[0].inside_image);
    CHECK_FALSE(found[1].inside_image);
}
