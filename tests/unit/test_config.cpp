// ConfigFile::parse: LibVMI's `name { key = value; }` format, with exact
// file:line:col: positions in errors and warnings.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/GuestOptions.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/config/ConfigFile.hpp"
#include "vmi/config/ConfigKeys.hpp"

using vmi::ConfigFile;

namespace {

ConfigFile parse(const std::string& text) { return ConfigFile::parse(text, "test.conf", vmi::all_config_keys()); }

std::string parse_error(const std::string& text)
{
    try {
        parse(text);
    } catch (const vmi::Error& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

TEST_CASE("config: several entries, comments, hex and decimal numbers, quoted strings and bare words")
{
    const std::string text = "# LibVMI config, as in the paper\n"                           // 1
                             "myguest {\n"                                                  // 2
                             "    ostype = \"Linux\";\n"                                    // 3
                             "    sysmap = /boot/System.map-6.1.0-13-amd64;  # bare word\n" // 4
                             "    linux_tasks = 0x4f0;\n"                                   // 5
                             "    linux_pid = 1234;\n"                                      // 6
                             "    pagemode = ia32e;\n"                                      // 7
                             "}\n"                                                          // 8
                             "\n"                                                           // 9
                             "\"other guest\" {\n"                                          // 10
                             "\tostype = \"Windows\"; win_tasks = 0X188;\n"                 // 11
                             "    kpgd = 0; linux_kaslr=0xFFFFFFFFFFFFFFFF;\n"              // 12
                             "}  # trailing comment without newline";
    ConfigFile file = parse(text);
    CHECK(file.path == "test.conf");
    CHECK(file.warnings.empty());
    REQUIRE(file.entries.size() == 2);

    const vmi::ConfigEntry* g = file.find("myguest");
    REQUIRE(g != nullptr);
    CHECK(g->name == "myguest");
    CHECK(g->file == "test.conf");
    CHECK(g->line == 2);
    CHECK(g->values.size() == 5);
    CHECK(g->text("ostype") == "Linux");
    CHECK(g->text("sysmap") == "/boot/System.map-6.1.0-13-amd64");
    CHECK(g->number("linux_tasks") == 0x4f0u);
    CHECK(g->number("linux_pid") == 1234u);
    CHECK(g->text("pagemode") == "ia32e");
    CHECK(g->has("linux_pid"));
    CHECK_FALSE(g->has("linux_mm"));
    // The wrong kind or a missing key gives nullopt.
    CHECK_FALSE(g->number("ostype").has_value());
    CHECK_FALSE(g->text("linux_pid").has_value());
    CHECK_FALSE(g->number("linux_mm").has_value());
    CHECK_FALSE(g->text("rekall_profile").has_value());
    // Values remember where they were written.
    CHECK(g->values.at("linux_tasks").line == 5);
    CHECK(g->values.at("linux_tasks").column == 19);
    CHECK(g->values.at("ostype").line == 3);
    CHECK(g->values.at("ostype").column == 14);

    const vmi::ConfigEntry* o = file.find("other guest");
    REQUIRE(o != nullptr);
    CHECK(o->line == 10);
    CHECK(o->text("ostype") == "Windows");
    CHECK(o->number("win_tasks") == 0x188u);
    CHECK(o->number("kpgd") == 0u);
    CHECK(o->number("linux_kaslr") == 0xffffffffffffffffULL);
    CHECK(o->values.at("win_tasks").line == 11);
    CHECK(o->values.at("win_tasks").column == 34);

    CHECK(file.find("nope") == nullptr);
    CHECK(file.find("other") == nullptr);
}

TEST_CASE("config: empty files, comment-only files and empty entries")
{
    CHECK(parse("").entries.empty());
    CHECK(parse("# nothing\n   \n\t# more\n").entries.empty());
    ConfigFile file = parse("a {}\nb { }\n");
    CHECK(file.entries.size() == 2);
    CHECK(file.find("a")->values.empty());
    CHECK(file.find("b")->line == 2);
}

TEST_CASE("config: strings keep '#', escaped quotes and backslashes; other backslashes stay")
{
    ConfigFile file = parse("g { sysmap = \"/a#b/\\\"q\\\"/c\\\\d/\\e\"; ostype = \"\"; }");
    const vmi::ConfigEntry* g = file.find("g");
    REQUIRE(g);
    CHECK(g->text("sysmap") == "/a#b/\"q\"/c\\d/\\e");
    CHECK(g->text("ostype") == "");
}

TEST_CASE("config: a number given for a text key is kept as its text")
{
    ConfigFile file = parse("g { ostype = 0x10; sysmap = 42; }");
    CHECK(file.find("g")->text("sysmap") == "42");
    CHECK(file.find("g")->text("ostype") == "0x10");
}

TEST_CASE("config: CRLF line endings and tabs")
{
    ConfigFile file = parse("g {\r\n\tlinux_pid = 0x10;\r\n\tostype = Linux;\r\n}\r\n");
    CHECK(file.find("g")->number("linux_pid") == 16u);
    CHECK(file.find("g")->text("ostype") == "Linux");
    CHECK(file.find("g")->values.at("ostype").line == 3);
}

TEST_CASE("config errors carry file:line:col")
{
    SUBCASE("missing ';'")
    {
        CHECK(parse_error("g {\n  linux_pid = 5\n  ostype = \"Linux\";\n}\n") ==
              "test.conf:3:3: expected ';' after value of 'linux_pid', found 'ostype'");
        CHECK(parse_error("g {\n  linux_pid = 5\n}\n") ==
              "test.conf:3:1: expected ';' after value of 'linux_pid', found '}'");
        CHECK(parse_error("g { linux_pid = 5") ==
              "test.conf:1:18: expected ';' after value of 'linux_pid', found end of file");
    }
    SUBCASE("missing '='")
    {
        CHECK(parse_error("g {\n  linux_pid 5;\n}\n") ==
              "test.conf:2:13: expected '=' after key 'linux_pid', found number 5");
        CHECK(parse_error("g {\n  ostype \"Linux\";\n}\n") ==
              "test.conf:2:10: expected '=' after key 'ostype', found string \"Linux\"");
    }
    SUBCASE("missing '}' at end of file")
    {
        CHECK(parse_error("g {\n  linux_pid = 5;\n") ==
              "test.conf:3:1: unexpected end of file: entry 'g' opened at line 1 is missing its '}'");
        CHECK(parse_error("a { }\n\nbee {\n  linux_pid = 5;") ==
              "test.conf:4:17: unexpected end of file: entry 'bee' opened at line 3 is missing its '}'");
        CHECK(parse_error("g {") ==
              "test.conf:1:4: unexpected end of file: entry 'g' opened at line 1 is missing its '}'");
    }
    SUBCASE("unterminated string")
    {
        CHECK(parse_error("g {\n  ostype = \"Linux;\n}\n") ==
              "test.conf:2:12: unterminated string (missing closing '\"')");
        CHECK(parse_error("g { ostype = \"abc") == "test.conf:1:14: unterminated string (missing closing '\"')");
        CHECK(parse_error("g { ostype = \"abc\\\"; }") == "test.conf:1:14: unterminated string (missing closing '\"')");
    }
    SUBCASE("unexpected character")
    {
        CHECK(parse_error("g {\n  linux_pid = 5;\n  $x = 1;\n}\n") == "test.conf:3:3: unexpected character '$'");
        CHECK(parse_error("g { ostype = 'Linux'; }") == "test.conf:1:14: unexpected character '''");
        CHECK(parse_error("g { ostype = \x01; }") == "test.conf:1:14: unexpected character '\\x01'");
        CHECK(parse_error("g { ostype = \xc3\xa9; }") == "test.conf:1:14: unexpected character '\\xc3'");
        CHECK(parse_error("g, h { }") == "test.conf:1:2: unexpected character ','");
    }
    SUBCASE("number with a leading zero")
    {
        CHECK(parse_error("g {\n  linux_pid = 0755;\n}\n") ==
              "test.conf:2:15: bad number '0755' for 'linux_pid': leading zero (write 0x... for hex; octal is not "
              "accepted)");
    }
    SUBCASE("other bad numbers")
    {
        CHECK(parse_error("g { linux_tasks = 4f0; }") ==
              "test.conf:1:19: bad number '4f0' for 'linux_tasks': not a decimal number (hex needs a 0x prefix)");
        CHECK(parse_error("g { linux_kaslr = 0x10000000000000000; }") ==
              "test.conf:1:19: bad number '0x10000000000000000' for 'linux_kaslr': number does not fit in 64 bits");
        CHECK(parse_error("g { linux_tasks = 0xg; }") ==
              "test.conf:1:19: bad number '0xg' for 'linux_tasks': not a hex number");
    }
    SUBCASE("text for a numeric key")
    {
        CHECK(parse_error("g {\n  linux_pid = \"x\";\n}\n") ==
              "test.conf:2:15: expected a number for 'linux_pid', found string \"x\"");
        CHECK(parse_error("g { kpgd = abc; }") == "test.conf:1:12: expected a number for 'kpgd', found 'abc'");
        CHECK(parse_error("g { kpgd = \"0x1000\"; }") ==
              "test.conf:1:12: expected a number for 'kpgd', found string \"0x1000\"");
    }
    SUBCASE("bad pagemode")
    {
        CHECK(parse_error("g {\n  pagemode = \"banana\";\n}\n") ==
              "test.conf:2:14: unknown pagemode 'banana' (expected legacy, pae, ia32e or la57)");
        CHECK(parse_error("g { pagemode = 5; }") ==
              "test.conf:1:16: unknown pagemode '5' (expected legacy, pae, ia32e or la57)");
    }
    SUBCASE("structure")
    {
        CHECK(parse_error("}") == "test.conf:1:1: expected a VM name to start an entry, found '}'");
        CHECK(parse_error("g linux_pid = 1; }") == "test.conf:1:3: expected '{' after VM name 'g', found 'linux_pid'");
        CHECK(parse_error("g") == "test.conf:1:2: expected '{' after VM name 'g', found end of file");
        CHECK(parse_error("g { linux_pid = ; }") == "test.conf:1:17: expected a value for 'linux_pid', found ';'");
        CHECK(parse_error("g { \"ostype\" = x; }") ==
              "test.conf:1:5: expected a key or '}' in entry 'g', found string \"ostype\"");
        CHECK(parse_error("g { = 1; }") == "test.conf:1:5: expected a key or '}' in entry 'g', found '='");
        CHECK(parse_error("g { linux_pid = 1; }}") ==
              "test.conf:1:21: expected a VM name to start an entry, found '}'");
    }
}

TEST_CASE("config: the path given is the one errors name")
{
    try {
        ConfigFile::parse("g {", "/etc/libvmi.conf", vmi::all_config_keys());
        FAIL("no error");
    } catch (const vmi::Error& e) {
        CHECK(std::string(e.what()).rfind("/etc/libvmi.conf:1:4: ", 0) == 0);
    }
}

TEST_CASE("config warnings: unknown keys, duplicate keys, duplicate entries")
{
    SUBCASE("unknown key is named and ignored")
    {
        ConfigFile file = parse("g {\n  colour = blue;\n  linux_pid = 1;\n}\n");
        REQUIRE(file.warnings.size() == 1);
        CHECK(file.warnings[0] == "test.conf:2:3: unknown key 'colour' in entry 'g' (ignored)");
        CHECK_FALSE(file.find("g")->has("colour"));
        CHECK(file.find("g")->number("linux_pid") == 1u);
    }
    SUBCASE("misspelt LibVMI key")
    {
        ConfigFile file = parse("g { linux_task = 0x10; sys_map = \"x\"; }");
        REQUIRE(file.warnings.size() == 2);
        CHECK(file.warnings[0] == "test.conf:1:5: unknown key 'linux_task' in entry 'g' (ignored)");
        CHECK(file.warnings[1] == "test.conf:1:24: unknown key 'sys_map' in entry 'g' (ignored)");
        CHECK(file.find("g")->values.empty());
    }
    SUBCASE("duplicate key: last value wins")
    {
        ConfigFile file = parse("g {\n  linux_pid = 1;\n  linux_pid = 2;\n}\n");
        REQUIRE(file.warnings.size() == 1);
        CHECK(file.warnings[0] == "test.conf:3:3: key 'linux_pid' set again in entry 'g'; the last value wins");
        CHECK(file.find("g")->number("linux_pid") == 2u);
        CHECK(file.find("g")->values.at("linux_pid").line == 3);
    }
    SUBCASE("duplicate entry: last definition wins as a whole")
    {
        ConfigFile file = parse("g { linux_pid = 1; ostype = \"Linux\"; }\n  g { linux_pid = 2; }\nh { }\n");
        REQUIRE(file.warnings.size() == 1);
        CHECK(file.warnings[0] == "test.conf:2:3: entry 'g' defined again; the last definition wins");
        REQUIRE(file.entries.size() == 2);
        const vmi::ConfigEntry* g = file.find("g");
        CHECK(g->number("linux_pid") == 2u);
        CHECK_FALSE(g->has("ostype"));
        CHECK(g->line == 2);
    }
    SUBCASE("the same key in different entries is not a duplicate")
    {
        ConfigFile file = parse("a { linux_pid = 1; } b { linux_pid = 2; }");
        CHECK(file.warnings.empty());
        CHECK(file.find("a")->number("linux_pid") == 1u);
        CHECK(file.find("b")->number("linux_pid") == 2u);
    }
}

namespace {

struct KeyCase {
    const char* name;
    vmi::ConfigValueKind kind;
};

// Every key LibVMI accepts (libvmi/config/lexicon.l): each layer registers the ones it reads.
const std::vector<KeyCase> LIBVMI_KEYS = {
    {"ostype", vmi::ConfigValueKind::Text},
    {"sysmap", vmi::ConfigValueKind::Text},
    {"rekall_profile", vmi::ConfigValueKind::Text},
    {"volatility_ist", vmi::ConfigValueKind::Text},
    {"pagemode", vmi::ConfigValueKind::Text},
    {"kpgd", vmi::ConfigValueKind::Number},
    {"linux_tasks", vmi::ConfigValueKind::Number},
    {"linux_mm", vmi::ConfigValueKind::Number},
    {"linux_name", vmi::ConfigValueKind::Number},
    {"linux_pid", vmi::ConfigValueKind::Number},
    {"linux_pgd", vmi::ConfigValueKind::Number},
    {"linux_addr", vmi::ConfigValueKind::Number},
    {"linux_init_task", vmi::ConfigValueKind::Number},
    {"linux_kaslr", vmi::ConfigValueKind::Number},
    {"win_ntoskrnl", vmi::ConfigValueKind::Number},
    {"win_ntoskrnl_va", vmi::ConfigValueKind::Number},
    {"win_tasks", vmi::ConfigValueKind::Number},
    {"win_pdbase", vmi::ConfigValueKind::Number},
    {"win_pid", vmi::ConfigValueKind::Number},
    {"win_pname", vmi::ConfigValueKind::Number},
    {"win_kdvb", vmi::ConfigValueKind::Number},
    {"win_kdbg", vmi::ConfigValueKind::Number},
    {"win_kpcr", vmi::ConfigValueKind::Number},
    {"win_sysproc", vmi::ConfigValueKind::Number},
    {"freebsd_name", vmi::ConfigValueKind::Number},
    {"freebsd_pid", vmi::ConfigValueKind::Number},
    {"freebsd_vmspace", vmi::ConfigValueKind::Number},
    {"freebsd_pmap", vmi::ConfigValueKind::Number},
    {"freebsd_pgd", vmi::ConfigValueKind::Number},
    {"aarch64_ttbr0_va_width", vmi::ConfigValueKind::Number},
    {"aarch64_ttbr0_granule_size", vmi::ConfigValueKind::Number},
    {"aarch64_ttbr1_va_width", vmi::ConfigValueKind::Number},
    {"aarch64_ttbr1_granule_size", vmi::ConfigValueKind::Number},
};

} // namespace

TEST_CASE("config keys: every LibVMI key is known with its kind; 'image' and the layout keys are ours")
{
    for (const KeyCase& k : LIBVMI_KEYS) {
        INFO(k.name);
        const vmi::ConfigKey* key = vmi::all_config_keys().find(k.name);
        REQUIRE(key != nullptr);
        CHECK(key->name == k.name);
        CHECK(key->kind == k.kind);
        CHECK_FALSE(key->ours);
    }
    const vmi::ConfigKey* image = vmi::all_config_keys().find("image");
    REQUIRE(image != nullptr);
    CHECK(image->kind == vmi::ConfigValueKind::Text);
    CHECK(image->ours);
    const vmi::ConfigKey* tgid = vmi::all_config_keys().find("linux_tgid");
    REQUIRE(tgid != nullptr);
    CHECK(tgid->kind == vmi::ConfigValueKind::Number);
    CHECK(tgid->ours);
    CHECK(vmi::all_config_keys().find("") == nullptr);
    CHECK(vmi::all_config_keys().find("OSTYPE") == nullptr);
    CHECK(vmi::all_config_keys().find("linux_task") == nullptr);
}

TEST_CASE("config: every LibVMI key parses in one entry, without warnings")
{
    std::string text = "everything {\n";
    for (std::size_t i = 0; i < LIBVMI_KEYS.size(); ++i) {
        const KeyCase& k = LIBVMI_KEYS[i];
        if (k.kind == vmi::ConfigValueKind::Number)
            text += std::string("  ") + k.name + " = " + (i % 2 ? "0x" + std::to_string(1000 + i) : std::to_string(i)) +
                    ";\n";
        else if (std::string(k.name) == "pagemode") text += "  pagemode = pae;\n";
        else text += std::string("  ") + k.name + " = \"/value/of/" + k.name + "\";\n";
    }
    text += "  image = \"/var/dumps/guest.elf\";\n}\n";
    ConfigFile file = parse(text);
    CHECK(file.warnings.empty());
    const vmi::ConfigEntry* e = file.find("everything");
    REQUIRE(e);
    CHECK(e->values.size() == LIBVMI_KEYS.size() + 1);
    for (std::size_t i = 0; i < LIBVMI_KEYS.size(); ++i) {
        const KeyCase& k = LIBVMI_KEYS[i];
        INFO(k.name);
        CHECK(e->values.at(k.name).line == static_cast<int>(i) + 2);
        if (k.kind == vmi::ConfigValueKind::Number) {
            std::uint64_t expected = i % 2 ? std::stoull(std::to_string(1000 + i), nullptr, 16) : i;
            CHECK(e->number(k.name) == expected);
        } else if (std::string(k.name) == "pagemode") {
            CHECK(e->text(k.name) == "pae");
        } else {
            CHECK(e->text(k.name) == std::string("/value/of/") + k.name);
        }
    }
    CHECK(e->text("image") == "/var/dumps/guest.elf");
}

TEST_CASE("config: pagemode accepts every spelling parse_paging_mode knows, quoted")
{
    for (const char* mode :
         {"legacy", "32bit", "x86", "2level", "pae", "PAE", "ia32e", "x86_64", "4level", "64bit", "la57", "5level"}) {
        INFO(mode);
        ConfigFile file = parse(std::string("g { pagemode = \"") + mode + "\"; }");
        CHECK(file.find("g")->text("pagemode") == mode);
    }
}

// The lexer makes a bare word that starts with a digit a Number token; for a
// text key it is text all the same (LibVMI's lexer reads both as WORDs), and
// `pagemode = 4level;` is as good as the quoted spelling.
TEST_CASE("config: bare words starting with a digit are accepted for text keys")
{
    ConfigFile file = parse("g { pagemode = 4level; sysmap = 6.1.0/System.map; ostype = 9front; }");
    const vmi::ConfigEntry* g = file.find("g");
    REQUIRE(g);
    CHECK(g->text("pagemode") == "4level");
    CHECK(g->text("sysmap") == "6.1.0/System.map");
    CHECK(g->text("ostype") == "9front");
}

TEST_CASE("config: load reads a file, and names a missing one")
{
    auto dir = std::filesystem::temp_directory_path() / ("vmi-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string path = (dir / "libvmi.conf").string();
    {
        std::ofstream out(path);
        out << "guest1 {\n  ostype = \"Linux\";\n  linux_pid = 0x4f8;\n}\n";
    }
    ConfigFile file = ConfigFile::load(path, vmi::all_config_keys());
    CHECK(file.path == path);
    REQUIRE(file.find("guest1"));
    CHECK(file.find("guest1")->file == path);
    CHECK(file.find("guest1")->number("linux_pid") == 0x4f8u);

    {
        std::ofstream out(path);
        out << "guest1 {\n  linux_pid = 0755;\n}\n";
    }
    CHECK_THROWS_WITH_AS(ConfigFile::load(path, vmi::all_config_keys()),
                         (path + ":2:15: bad number '0755' for 'linux_pid': leading zero (write 0x... for hex; octal "
                                 "is not accepted)")
                             .c_str(),
                         vmi::Error);
    std::filesystem::remove_all(dir);
    CHECK_THROWS_WITH_AS(ConfigFile::load(path, vmi::all_config_keys()),
                         ("cannot open config file '" + path + "': No such file or directory").c_str(), vmi::Error);
}
