#include "common/WriteData.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/HexBytes.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/NumberParser.hpp"

namespace vmi {
namespace {

std::vector<std::uint8_t> little_endian(std::uint64_t value, unsigned size)
{
    std::vector<std::uint8_t> bytes(size);
    for (unsigned i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(value >> (8 * i));
    return bytes;
}

std::vector<std::uint8_t> read_source_file(const std::string& path)
{
    bool is_stdin = path == "-";
    std::string name = is_stdin ? "standard input" : fmt::format("--from file '{}'", path);
    std::FILE* file = is_stdin ? stdin : std::fopen(path.c_str(), "rb");
    if (!file) fail("cannot open {}: {}", name, std::strerror(errno));
    std::vector<std::uint8_t> bytes;
    std::uint8_t buffer[65536];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
        if (bytes.size() + n > MAX_WRITE_BYTES) {
            if (!is_stdin) std::fclose(file);
            fail("{} holds more than {} bytes, the most one write takes", name, MAX_WRITE_BYTES);
        }
        bytes.insert(bytes.end(), buffer, buffer + n);
    }
    int err = std::ferror(file) ? errno : 0;
    if (!is_stdin) std::fclose(file);
    if (err) fail("cannot read {}: {}", name, std::strerror(err));
    if (bytes.empty()) fail("nothing to write: {} is empty", name);
    return bytes;
}

} // namespace

void add_write_data_options(CLI::App& app, WriteDataOptions& options)
{
    auto* hex =
        app.add_option("--hex", options.hex, "Bytes to write in memory order, as hex: 'deadbeef' or 'de ad be ef'");
    auto* text = app.add_option("--string", options.text, "Text to write (its bytes; no NUL unless --nul)");
    auto* nul = app.add_flag("--nul", options.nul, "With --string: also write a terminating NUL byte");
    auto* u32 = app.add_option("--u32", options.u32, "A 32-bit number to write, little-endian (decimal or 0x hex)");
    auto* u64 = app.add_option("--u64", options.u64, "A 64-bit number to write, little-endian (decimal or 0x hex)");
    auto* from = app.add_option("--from", options.from, "File whose raw bytes to write ('-' for standard input)");
    nul->needs(text);
    // Two sources at once are refused by resolve_write_data(), with a message
    // naming both and listing the choices.
    options.given = {hex, text, u32, u64, from};
}

std::vector<std::uint8_t> resolve_write_data(const WriteDataOptions& options)
{
    const CLI::Option* chosen = nullptr;
    for (const CLI::Option* option : options.given) {
        if (option->count() == 0) continue;
        if (chosen)
            fail("give only one of --hex, --string, --u32, --u64 or --from ({} and {} were both given)",
                 chosen->get_name(), option->get_name());
        chosen = option;
    }
    if (!chosen) fail("no data given: use one of --hex BYTES, --string TEXT, --u32 VALUE, --u64 VALUE or --from FILE");

    std::vector<std::uint8_t> bytes;
    const std::string& which = chosen->get_name();
    if (which == "--hex") {
        bytes = parse_hex_bytes(options.hex, "--hex");
    } else if (which == "--string") {
        bytes.assign(options.text.begin(), options.text.end());
        if (options.nul) bytes.push_back(0);
    } else if (which == "--u32") {
        std::uint64_t value = parse_u64(options.u32, "--u32");
        if (value > 0xffffffffULL)
            fail("--u32: {} does not fit in 32 bits (at most 0xffffffff); use --u64", options.u32);
        bytes = little_endian(value, 4);
    } else if (which == "--u64") {
        bytes = little_endian(parse_u64(options.u64, "--u64"), 8);
    } else {
        return read_source_file(options.from);
    }
    if (bytes.empty()) fail("nothing to write: {} is empty", which);
    return bytes;
}

} // namespace vmi
