// The x86 decoding of vmi-hooks (X86Branches.hpp) and the owners of kernel
// code (CodeOwners.hpp), on hand-assembled bytes and made-up modules.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "vmi/base/Error.hpp"
#include "vmi/linux/CodeOwners.hpp"
#include "vmi/linux/X86Branches.hpp"

using vmi::X86Branch;

TEST_CASE("x86 branches: a linear sweep finds direct and indirect branches and their targets")
{
    const std::uint64_t at = 0xffffffff81000000ULL;
    std::vector<std::uint8_t> code = {
        0x0f, 0x1f, 0x44, 0x00, 0x00,       // +0  nopl 0x0(%rax,%rax,1) (an idle ftrace site)
        0xb8, 0xe8, 0x10, 0x20, 0x30,       // +5  mov $0x302010e8,%eax: an E8 byte that is no call
        0x81, 0xfe, 0xb0, 0x00, 0x00, 0x00, // +10 cmp $0xb0,%esi
        0x0f, 0x84, 0x10, 0x00, 0x00, 0x00, // +16 je +0x10 past its end (+38)
        0x74, 0x02,                         // +22 je +2 (+26)
        0xe8, 0xf0, 0xff, 0xff, 0xff,       // +24 call -16 (+13)
        0xe9, 0x00, 0x10, 0x00, 0x00,       // +29 jmp +0x1000
        0xff, 0xd0,                         // +34 call *%rax
        0xff, 0xe0,                         // +36 jmp *%rax
    };
    vmi::X86Code decoded = vmi::decode_branches(code, at, 64);
    CHECK_FALSE(decoded.undecodable_at);
    REQUIRE(decoded.branches.size() == 6);
    CHECK(decoded.branches[0].kind == X86Branch::Kind::conditional_jump);
    CHECK(decoded.branches[0].at == at + 16);
    CHECK(decoded.branches[0].target == at + 38);
    CHECK(decoded.branches[1].target == at + 26);
    CHECK(decoded.branches[2].kind == X86Branch::Kind::call);
    CHECK(decoded.branches[2].target == at + 13);
    CHECK(decoded.branches[3].kind == X86Branch::Kind::jump);
    CHECK(decoded.branches[3].target == at + 34 + 0x1000);
    CHECK(decoded.branches[4].kind == X86Branch::Kind::indirect_call);
    CHECK_FALSE(decoded.branches[4].direct());
    CHECK(decoded.branches[5].kind == X86Branch::Kind::indirect_jump);
}

TEST_CASE("x86 branches: 32-bit code wraps at 4 GiB, and bytes that are no instruction stop the sweep")
{
    std::vector<std::uint8_t> call = {0xe8, 0x00, 0x00, 0x00, 0x40}; // call +0x40000000
    vmi::X86Code decoded = vmi::decode_branches(call, 0xd1000000, 32);
    REQUIRE(decoded.branches.size() == 1);
    CHECK(decoded.branches[0].target == ((0xd1000005ULL + 0x40000000ULL) & 0xffffffffULL));

    std::vector<std::uint8_t> broken = {0x90, 0x0f, 0x0b, 0x0f, 0xff}; // nop, ud2, then no instruction
    decoded = vmi::decode_branches(broken, 0x1000, 64);
    CHECK(decoded.instructions == 2);
    REQUIRE(decoded.undecodable_at);
    CHECK(*decoded.undecodable_at == 0x1003);
    CHECK_THROWS_AS(vmi::decode_branches(broken, 0x1000, 16), vmi::Error);
}

TEST_CASE("code owners: the kernel's text, listed modules before hidden ones, and nothing")
{
    vmi::CodeOwners owners(0xffffffff81000000ULL, 0xffffffff82000000ULL);
    vmi::LinuxModule listed;
    listed.name = "fuse";
    listed.address = 0xffffffffc0100000ULL;
    listed.base = 0xffffffffc0000000ULL;
    listed.code_size = 0x4000;
    vmi::LinuxModule hidden = listed;
    hidden.name = "rootkit";
    hidden.base = 0xffffffffc0200000ULL;
    vmi::LinuxModule copy = listed; // a scan's second sight of fuse's code
    copy.name = "fuse-copy";
    vmi::LinuxModule sizeless;
    sizeless.name = "broken";
    sizeless.base = 0xffffffffc0300000ULL;
    CHECK(owners.add_module(listed, false));
    CHECK(owners.add_module(hidden, true));
    CHECK(owners.add_module(copy, true));
    CHECK_FALSE(owners.add_module(sizeless, true));

    CHECK(owners.owner_of(0xffffffff81234567ULL).kind == vmi::CodeOwner::Kind::core);
    CHECK(owners.owner_of(0xffffffff82000000ULL).kind == vmi::CodeOwner::Kind::none);
    vmi::CodeOwner fuse = owners.owner_of(0xffffffffc0000010ULL);
    CHECK(fuse.name() == "fuse");
    CHECK_FALSE(fuse.hidden);
    vmi::CodeOwner rootkit = owners.owner_of(0xffffffffc0203fffULL);
    CHECK(rootkit.name() == "rootkit");
    CHECK(rootkit.hidden);
    CHECK(owners.owner_of(0xffffffffc0204000ULL).name().empty());
    CHECK(owners.owner_of(0xffffffffc0300000ULL).kind == vmi::CodeOwner::Kind::none);

    // Names from the module's own symbols, read once; none past a function's end.
    int reads = 0;
    owners.set_function_reader([&](std::uint64_t) {
        ++reads;
        return std::vector<vmi::ModuleSymbol>{{0xffffffffc0200000ULL, 0x40, "hide_init"},
                                              {0xffffffffc0200100ULL, 0x20, "hook_getdents"}};
    });
    CHECK(owners.module_function(rootkit, 0xffffffffc0200100ULL) == "hook_getdents");
    CHECK(owners.module_function(rootkit, 0xffffffffc0200108ULL) == "hook_getdents+0x8");
    CHECK(owners.module_function(rootkit, 0xffffffffc0200080ULL).empty());
    CHECK(reads == 1);
}
