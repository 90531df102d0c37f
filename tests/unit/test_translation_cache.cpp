// TranslationCache: page-number map, bounded by starting over when full.
#include <doctest/doctest.h>

#include "vmi/paging/TranslationCache.hpp"

using vmi::CachedPage;

TEST_CASE("translation cache: insert, find, clear")
{
    vmi::TranslationCache cache;
    CHECK(cache.size() == 0);
    CHECK_FALSE(cache.find(0xffffffff81000ULL).has_value());
    cache.insert(0xffffffff81000ULL, {0x1000, 4096});
    cache.insert(0xffffffff81001ULL, {0x7777, 0x200000});
    CHECK(cache.find(0xffffffff81000ULL) == CachedPage{0x1000, 4096});
    CHECK(cache.find(0xffffffff81001ULL) == CachedPage{0x7777, 0x200000});
    CHECK_FALSE(cache.find(0xffffffff81002ULL).has_value());
    CHECK(cache.size() == 2);
    cache.clear();
    CHECK(cache.size() == 0);
    CHECK_FALSE(cache.find(0xffffffff81000ULL).has_value());
}

TEST_CASE("translation cache: physical page 0 is a real answer")
{
    vmi::TranslationCache cache;
    cache.insert(5, {0, 4096});
    REQUIRE(cache.find(5).has_value());
    CHECK(cache.find(5)->physical_page == 0u);
}

TEST_CASE("translation cache: bounded, starts over when full")
{
    vmi::TranslationCache cache(3);
    cache.insert(1, {10, 4096});
    cache.insert(2, {20, 4096});
    cache.insert(3, {30, 4096});
    CHECK(cache.size() == 3);
    cache.insert(4, {40, 4096});
    CHECK(cache.size() == 1);
    CHECK(cache.find(4) == CachedPage{40, 4096});
    CHECK_FALSE(cache.find(1).has_value());
    CHECK_FALSE(cache.find(3).has_value());
}
