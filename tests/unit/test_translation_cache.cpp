// TranslationCache: page-number map, bounded by starting over when full.
#include <doctest/doctest.h>

#include "vmi/TranslationCache.hpp"

TEST_CASE("translation cache: insert, find, clear")
{
    vmi::TranslationCache cache;
    CHECK(cache.size() == 0);
    CHECK_FALSE(cache.find(0xffffffff81000ULL).has_value());
    cache.insert(0xffffffff81000ULL, 0x1000);
    cache.insert(0xffffffff81001ULL, 0x7777);
    CHECK(cache.find(0xffffffff81000ULL) == 0x1000u);
    CHECK(cache.find(0xffffffff81001ULL) == 0x7777u);
    CHECK_FALSE(cache.find(0xffffffff81002ULL).has_value());
    CHECK(cache.size() == 2);
    cache.clear();
    CHECK(cache.size() == 0);
    CHECK_FALSE(cache.find(0xffffffff81000ULL).has_value());
}

TEST_CASE("translation cache: physical page 0 is a real answer")
{
    vmi::TranslationCache cache;
    cache.insert(5, 0);
    REQUIRE(cache.find(5).has_value());
    CHECK(*cache.find(5) == 0u);
}

TEST_CASE("translation cache: bounded, starts over when full")
{
    vmi::TranslationCache cache(3);
    cache.insert(1, 10);
    cache.insert(2, 20);
    cache.insert(3, 30);
    CHECK(cache.size() == 3);
    cache.insert(4, 40);
    CHECK(cache.size() == 1);
    CHECK(cache.find(4) == 40u);
    CHECK_FALSE(cache.find(1).has_value());
    CHECK_FALSE(cache.find(3).has_value());
}
