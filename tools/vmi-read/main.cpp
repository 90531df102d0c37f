// vmi-read: read guest memory at a physical address, a kernel or process
// virtual address, or a kernel symbol (the paper's vmi_read_addr_pa/va/ksym,
// vmi_read_32_va, vmi_read_str_va).
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/AddressTarget.hpp"
#include "common/Guest.hpp"
#include "common/HexBytes.hpp"
#include "common/Hexdump.hpp"
#include "common/OutputFormat.hpp"
#include "common/ToolMain.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/NumberParser.hpp"

namespace {

constexpr std::uint64_t MAX_COUNT_BYTES = 256ULL << 20; // one read is capped at 256 MiB

struct ReadOptions {
    vmi::GuestOptions guest;
    vmi::AddressOptions address;
    std::string count;
    std::string as = "bytes";
    bool raw = false;
};

unsigned item_size(const std::string& as, const vmi::AddressTarget& target)
{
    if (as == "u8" || as == "bytes" || as == "string") return 1;
    if (as == "u16") return 2;
    if (as == "u32") return 4;
    if (as == "u64") return 8;
    if (as == "addr") return target.pointer_size();
    vmi::fail("--as: unknown type '{}' (expected bytes, u8, u16, u32, u64, addr or string)", as);
}

std::uint64_t decode(const std::uint8_t* bytes, unsigned size)
{
    std::uint64_t value = 0;
    std::memcpy(&value, bytes, size); // x86 guests are little-endian, like us
    return value;
}

void write_raw(std::string_view bytes)
{
    if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size())
        vmi::fail("cannot write output: {}", std::strerror(errno));
}

int print_string(ReadOptions& options, vmi::AddressTarget& target, vmi::OutputFormat format, std::uint64_t cap)
{
    bool terminated = false;
    std::string text = target.read_string(cap, &terminated);
    if (!terminated) vmi::diag::warn("no NUL within {} bytes at {:#x}; string cut there", cap, target.address());
    if (options.raw) {
        write_raw(text);
    } else if (format == vmi::OutputFormat::Text) {
        std::string shown = vmi::printable(text);
        vmi::print_output(shown.ends_with('\n') ? shown : shown + "\n");
    } else {
        nlohmann::json out{{"address", vmi::hex_address(target.address())},
                           {"space", target.space_name()},
                           {"as", "string"},
                           {"string", text},
                           {"terminated", terminated}};
        vmi::print_output(vmi::to_json_text(out) + "\n");
    }
    return vmi::EXIT_OK;
}

int read_memory(ReadOptions& options)
{
    vmi::Guest guest(options.guest);
    vmi::OutputFormat format = options.guest.format();
    vmi::AddressTarget target = vmi::AddressTarget::resolve(options.address, guest);
    unsigned size = item_size(options.as, target);

    std::uint64_t default_count = options.as == "bytes" ? 256 : options.as == "string" ? 4096 : 1;
    std::uint64_t count = options.count.empty() ? default_count : vmi::parse_u64(options.count, "--count");
    if (count == 0) vmi::fail("--count must be at least 1");
    if (count > MAX_COUNT_BYTES / size)
        vmi::fail("--count {} is too large (at most {} bytes per read)", count, MAX_COUNT_BYTES);
    if (options.as == "string") return print_string(options, target, format, count);

    std::vector<std::uint8_t> bytes(count * size);
    target.read(0, bytes);
    if (options.raw) {
        write_raw({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
        return vmi::EXIT_OK;
    }

    bool as_bytes = options.as == "bytes";
    auto render = [&](std::uint64_t index) -> nlohmann::json {
        std::uint64_t value = decode(&bytes[index * size], size);
        if (options.as == "addr") return vmi::hex_address(value);
        return value;
    };
    if (format == vmi::OutputFormat::Text) {
        if (as_bytes) {
            vmi::print_output(vmi::hexdump(target.address(), bytes));
        } else {
            for (std::uint64_t i = 0; i < count; ++i) {
                std::uint64_t value = decode(&bytes[i * size], size);
                if (options.as == "addr") vmi::print_output(fmt::format("{:#0{}x}\n", value, 2 + 2 * size));
                else vmi::print_output(fmt::format("{}\n", value));
            }
        }
    } else if (format == vmi::OutputFormat::Json) {
        nlohmann::json out{
            {"address", vmi::hex_address(target.address())}, {"space", target.space_name()}, {"as", options.as}};
        if (as_bytes) {
            out["hex"] = vmi::hex_string(bytes);
        } else {
            out["values"] = nlohmann::json::array();
            for (std::uint64_t i = 0; i < count; ++i) out["values"].push_back(render(i));
        }
        vmi::print_output(vmi::to_json_text(out) + "\n");
    } else {
        // One object per item (per 16-byte row for bytes), each with its address.
        std::uint64_t step = as_bytes ? 16 : size;
        for (std::uint64_t at = 0; at < bytes.size(); at += step) {
            nlohmann::json line{{"address", vmi::hex_address(target.address() + at)}};
            if (as_bytes) {
                line["hex"] =
                    vmi::hex_string(std::span(bytes).subspan(at, std::min<std::uint64_t>(16, bytes.size() - at)));
            } else {
                line["value"] = render(at / size);
            }
            vmi::print_output(vmi::to_json_text(line) + "\n");
        }
    }
    return vmi::EXIT_OK;
}

} // namespace

int main(int argc, char** argv)
{
    ReadOptions options;
    return vmi::run_tool(
        "vmi-read", "Read guest memory by physical address, virtual address or kernel symbol.", argc, argv,
        [&](CLI::App& app) {
            vmi::add_guest_options(app, options.guest);
            vmi::add_address_options(app, options.address);
            app.add_option("-n,--count", options.count,
                           "How many items to read (default: 256 bytes, 1 value, strings up to 4096 bytes)");
            app.add_option("--as", options.as, "Read as bytes, u8, u16, u32, u64, addr (guest pointer) or string")
                ->default_str("bytes");
            app.add_flag("--raw", options.raw, "Write the bytes read to stdout unformatted");
        },
        [&] { return read_memory(options); });
}
