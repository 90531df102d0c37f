#include <doctest/doctest.h>

#include "vmi/base/Base64.hpp"

using vmi::decode_base64;

TEST_CASE("base64: RFC 4648's test vectors decode")
{
    CHECK(decode_base64("") == std::string());
    CHECK(decode_base64("Zg==") == std::string("f"));
    CHECK(decode_base64("Zm8=") == std::string("fo"));
    CHECK(decode_base64("Zm9v") == std::string("foo"));
    CHECK(decode_base64("Zm9vYg==") == std::string("foob"));
    CHECK(decode_base64("Zm9vYmE=") == std::string("fooba"));
    CHECK(decode_base64("Zm9vYmFy") == std::string("foobar"));
}

TEST_CASE("base64: every byte value, and the alphabet's last two characters")
{
    CHECK(decode_base64("AP8=") == std::string("\x00\xff", 2));
    CHECK(decode_base64("+/+/") == std::string("\xfb\xff\xbf"));
    CHECK(decode_base64("MSBzaAoyIHNsZWVwCg==") == std::string("1 sh\n2 sleep\n"));
}

TEST_CASE("base64: anything else is refused, not half-decoded")
{
    CHECK_FALSE(decode_base64("Zg"));       // length not a multiple of 4
    CHECK_FALSE(decode_base64("Zg=a"));     // padding before the end
    CHECK_FALSE(decode_base64("Zg==Zm9v")); // padding in a group that is not the last
    CHECK_FALSE(decode_base64("Z==="));     // three pad characters
    CHECK_FALSE(decode_base64("Zm9\n"));    // whitespace
    CHECK_FALSE(decode_base64("Zm-_"));     // the URL-safe alphabet
    CHECK_FALSE(decode_base64("===="));
}
