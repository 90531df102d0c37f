// PagingMode names, synonyms and sizes.
#include <doctest/doctest.h>

#include "vmi/base/PagingMode.hpp"

using vmi::PagingMode;

TEST_CASE("paging mode: names round-trip")
{
    for (PagingMode mode : {PagingMode::Legacy32, PagingMode::PAE, PagingMode::IA32e, PagingMode::LA57})
        CHECK(vmi::parse_paging_mode(vmi::name(mode)) == mode);
    CHECK(vmi::name(PagingMode::Legacy32) == "legacy");
    CHECK(vmi::name(PagingMode::PAE) == "pae");
    CHECK(vmi::name(PagingMode::IA32e) == "ia32e");
    CHECK(vmi::name(PagingMode::LA57) == "la57");
}

TEST_CASE("paging mode: synonyms, case-insensitive; unknown is nullopt")
{
    CHECK(vmi::parse_paging_mode("32bit") == PagingMode::Legacy32);
    CHECK(vmi::parse_paging_mode("x86") == PagingMode::Legacy32);
    CHECK(vmi::parse_paging_mode("2level") == PagingMode::Legacy32);
    CHECK(vmi::parse_paging_mode("Legacy") == PagingMode::Legacy32);
    CHECK(vmi::parse_paging_mode("PAE") == PagingMode::PAE);
    CHECK(vmi::parse_paging_mode("x86_64") == PagingMode::IA32e);
    CHECK(vmi::parse_paging_mode("X86_64") == PagingMode::IA32e);
    CHECK(vmi::parse_paging_mode("4level") == PagingMode::IA32e);
    CHECK(vmi::parse_paging_mode("64bit") == PagingMode::IA32e);
    CHECK(vmi::parse_paging_mode("IA32E") == PagingMode::IA32e);
    CHECK(vmi::parse_paging_mode("5level") == PagingMode::LA57);
    CHECK(vmi::parse_paging_mode("LA57") == PagingMode::LA57);
    CHECK_FALSE(vmi::parse_paging_mode("").has_value());
    CHECK_FALSE(vmi::parse_paging_mode("3level").has_value());
    CHECK_FALSE(vmi::parse_paging_mode("pae ").has_value());
    CHECK_FALSE(vmi::parse_paging_mode("amd64").has_value());
    CHECK_FALSE(vmi::parse_paging_mode("la5").has_value());
}

TEST_CASE("paging mode: pointer size, virtual address width, 64-bitness")
{
    CHECK(vmi::pointer_size(PagingMode::Legacy32) == 4);
    CHECK(vmi::pointer_size(PagingMode::PAE) == 4);
    CHECK(vmi::pointer_size(PagingMode::IA32e) == 8);
    CHECK(vmi::pointer_size(PagingMode::LA57) == 8);
    CHECK(vmi::virtual_address_bits(PagingMode::Legacy32) == 32);
    CHECK(vmi::virtual_address_bits(PagingMode::PAE) == 32);
    CHECK(vmi::virtual_address_bits(PagingMode::IA32e) == 48);
    CHECK(vmi::virtual_address_bits(PagingMode::LA57) == 57);
    CHECK_FALSE(vmi::is_64bit(PagingMode::Legacy32));
    CHECK_FALSE(vmi::is_64bit(PagingMode::PAE));
    CHECK(vmi::is_64bit(PagingMode::IA32e));
    CHECK(vmi::is_64bit(PagingMode::LA57));
}
