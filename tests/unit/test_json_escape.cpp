// Guest bytes in JSON: every string is escaped so that the bytes can be had
// back (a backslash as two, bytes that are not valid UTF-8 as \xNN), never
// replaced by U+FFFD.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "common/OutputFormat.hpp"

namespace {

// The reverse of the escape, as a reader of our JSON would do it.
std::string unescape(const std::string& text)
{
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            out += text[i];
            continue;
        }
        REQUIRE(i + 1 < text.size());
        if (text[i + 1] == '\\') {
            out += '\\';
            ++i;
            continue;
        }
        REQUIRE(text[i + 1] == 'x');
        REQUIRE(i + 3 < text.size());
        out += static_cast<char>(std::stoi(text.substr(i + 2, 2), nullptr, 16));
        i += 3;
    }
    return out;
}

// Our JSON text of {"name": bytes}, parsed back, and the string in it.
std::string through_json(const std::string& bytes)
{
    std::string text = vmi::to_json_text({{"name", bytes}});
    nlohmann::json parsed = nlohmann::json::parse(text); // valid UTF-8, or this throws
    return parsed["name"].get<std::string>();
}

} // namespace

TEST_CASE("json escape: invalid bytes as \\xNN, backslashes doubled, valid UTF-8 kept")
{
    CHECK(vmi::json_escape_bytes("init") == "init");
    CHECK(vmi::json_escape_bytes(std::string("ab\xff\xfe"
                                             "cd")) == "ab\\xff\\xfecd");
    CHECK(vmi::json_escape_bytes("a\\b") == "a\\\\b");
    CHECK(vmi::json_escape_bytes("\\xff") == "\\\\xff"); // a literal backslash-x stays tellable
    CHECK(vmi::json_escape_bytes("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7") ==
          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7");
    // Overlong forms, UTF-16 surrogates, past U+10FFFF, cut-off sequences: not UTF-8.
    CHECK(vmi::json_escape_bytes("\xc0\xaf") == "\\xc0\\xaf");
    CHECK(vmi::json_escape_bytes("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");
    CHECK(vmi::json_escape_bytes("\xed\xa0\x80") == "\\xed\\xa0\\x80");
    CHECK(vmi::json_escape_bytes("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");
    CHECK(vmi::json_escape_bytes("x\xe2\x82") == "x\\xe2\\x82");
    CHECK(vmi::json_escape_bytes(std::string("\0a", 2)) == std::string("\0a", 2)); // NUL is JSON's \u0000
}

TEST_CASE("json escape: to_json_text escapes every string and key, and the bytes come back")
{
    std::string hostile("ab\xff\xfe"
                        "cd\\x41\\\xc3\xa9\x80");
    nlohmann::json value = {{"name", hostile}, {"list", {hostile, "plain"}}, {std::string("k\xff"), 1}};
    std::string text = vmi::to_json_text(value);
    CHECK(text.find("\xef\xbf\xbd") == std::string::npos); // no U+FFFD replacement
    nlohmann::json parsed = nlohmann::json::parse(text);
    CHECK(unescape(parsed["name"].get<std::string>()) == hostile);
    CHECK(unescape(parsed["list"][0].get<std::string>()) == hostile);
    CHECK(parsed["list"][1] == "plain");
    CHECK(parsed.contains("k\\xff"));

    for (int byte = 0; byte < 256; ++byte) {
        std::string one(1, static_cast<char>(byte));
        CAPTURE(byte);
        CHECK(unescape(through_json(one)) == one);
    }
    std::string every;
    for (int byte = 255; byte >= 0; --byte) every += static_cast<char>(byte);
    CHECK(unescape(through_json(every)) == every);
}
