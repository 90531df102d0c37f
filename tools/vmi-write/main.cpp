// vmi-write: write guest memory at a physical address, a kernel or process
// virtual address, or a kernel symbol (the paper's vmi_write_addr_pa/va/ksym),
// carefully: the whole target is read first (so a range that is not all
// mapped RAM changes nothing), then written, read back and compared.
#include <algorithm>
#include <vector>

#include "vmi/AddressTarget.hpp"
#include "vmi/Error.hpp"
#include "vmi/HexBytes.hpp"
#include "vmi/OutputFormat.hpp"
#include "vmi/ScopedPause.hpp"
#include "vmi/Session.hpp"
#include "vmi/ToolMain.hpp"
#include "vmi/WriteData.hpp"

namespace {

// Text output shows at most this many bytes of old and new data.
constexpr std::size_t TEXT_PREVIEW_BYTES = 32;

struct WriteOptions {
    vmi::SessionOptions session;
    vmi::AddressOptions address;
    vmi::WriteDataOptions data;
    bool writable_image = false;
    bool dry_run = false;
};

struct Change {
    std::uint64_t address = 0;
    std::string space;
    std::optional<std::uint64_t> physical;
    std::vector<std::uint8_t> old_bytes;
    std::vector<std::uint8_t> new_bytes;
    bool dry_run = false;
};

std::string preview(std::span<const std::uint8_t> bytes)
{
    if (bytes.size() <= TEXT_PREVIEW_BYTES) return vmi::hex_string(bytes);
    return vmi::hex_string(bytes.first(TEXT_PREVIEW_BYTES)) + "...";
}

void print_change(const Change& change, vmi::OutputFormat format)
{
    if (format == vmi::OutputFormat::Text) {
        std::string where = change.space;
        if (change.physical && change.space != "physical") where += fmt::format(", physical {:#x}", *change.physical);
        std::size_t size = change.new_bytes.size();
        fmt::print("{} {} byte{} at {:#x} ({}): {} -> {}\n", change.dry_run ? "would write" : "wrote", size,
                   size == 1 ? "" : "s", change.address, where, preview(change.old_bytes), preview(change.new_bytes));
        return;
    }
    nlohmann::json out{{"address", vmi::hex_address(change.address)}, {"space", change.space}};
    if (change.physical) out["physical"] = vmi::hex_address(*change.physical);
    out["size"] = change.new_bytes.size();
    out["old"] = vmi::hex_string(change.old_bytes);
    out["new"] = vmi::hex_string(change.new_bytes);
    out["written"] = !change.dry_run;
    fmt::print("{}\n", vmi::to_json_text(out));
}

// Fails naming the first byte that does not read back as written.
void verify(const vmi::AddressTarget& target, std::span<const std::uint8_t> wanted, std::span<const std::uint8_t> got)
{
    auto [w, g] = std::mismatch(wanted.begin(), wanted.end(), got.begin());
    if (w == wanted.end()) return;
    std::size_t at = static_cast<std::size_t>(w - wanted.begin());
    vmi::fail("write not verified: {:#x} ({}) reads back as {:02x} after writing {:02x}", target.address() + at,
              target.space_name(), *g, *w);
}

Change apply(vmi::AddressTarget& target, const std::vector<std::uint8_t>& data, bool dry_run)
{
    if (data.size() - 1 > ~std::uint64_t{0} - target.address())
        vmi::fail("{} bytes at {:#x} would wrap around the end of the address space", data.size(), target.address());
    Change change;
    change.address = target.address();
    change.space = target.space_name();
    change.physical = target.physical_address();
    change.new_bytes = data;
    change.dry_run = dry_run;
    // Reading the whole target first proves every page of it is mapped RAM:
    // a write that could only be done in part is not begun.
    change.old_bytes.resize(data.size());
    target.read(0, change.old_bytes);
    if (!dry_run) {
        target.write(0, data);
        std::vector<std::uint8_t> back(data.size());
        target.read(0, back);
        verify(target, data, back);
    }
    return change;
}

int write_memory(WriteOptions& options)
{
    // The data is checked before the guest is touched.
    std::vector<std::uint8_t> data = vmi::resolve_write_data(options.data);
    // A dry run opens nothing for writing, whatever the flags say. A live
    // guest is written without --writable-image: naming it is the intent.
    options.session.writable_image = options.writable_image && !options.dry_run;
    options.session.writes = !options.dry_run;
    vmi::Session session = vmi::Session::open(options.session);
    vmi::OutputFormat format = options.session.format();
    if (!options.dry_run && !session.memory().writable())
        vmi::fail("not writing: {} is open read-only; give --writable-image to write to a dump file "
                  "(or --dry-run to see what would change)",
                  session.memory().describe());

    Change change;
    {
        // One consistent view of a live guest, from finding its kernel and
        // translating the address to checking what was written.
        vmi::ScopedPause pause(session.memory(), true);
        vmi::AddressTarget target = vmi::AddressTarget::resolve(options.address, session);
        change = apply(target, data, options.dry_run);
    }
    print_change(change, format);
    return vmi::EXIT_OK;
}

} // namespace

int main(int argc, char** argv)
{
    WriteOptions options;
    return vmi::run_tool(
        "vmi-write", "Write guest memory by physical address, virtual address or kernel symbol.", argc, argv,
        [&](CLI::App& app) {
            vmi::add_session_options(app, options.session);
            vmi::add_address_options(app, options.address);
            vmi::add_write_data_options(app, options.data);
            app.add_flag("--writable-image", options.writable_image,
                         "Open a memory-dump file for writing (dumps are read-only without it)");
            app.add_flag("--dry-run", options.dry_run, "Print what would change, write nothing");
        },
        [&] { return write_memory(options); });
}
