// vmi-write: write guest memory at a physical address, a kernel or process
// virtual address, or a kernel symbol (the paper's vmi_write_addr_pa/va/ksym),
// carefully: the whole target is planned page by page first (so a range that
// is not all mapped RAM changes nothing), a live guest's read-only and user
// pages are refused without --force, then it is written (a failure partway
// puts back what was written, see GuestWrite), read back and compared.
#include <algorithm>
#include <vector>

#include "common/AddressTarget.hpp"
#include "common/Guest.hpp"
#include "common/GuestWrite.hpp"
#include "common/HexBytes.hpp"
#include "common/OutputFormat.hpp"
#include "common/PauseOptions.hpp"
#include "common/ToolMain.hpp"
#include "common/WriteData.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/ScopedPause.hpp"

namespace {

// Text output shows at most this many bytes of old and new data.
constexpr std::size_t TEXT_PREVIEW_BYTES = 32;

struct WriteOptions {
    vmi::GuestOptions guest;
    vmi::AddressOptions address;
    vmi::WriteDataOptions data;
    vmi::PauseOptions pause;
    bool writable_image = false;
    bool live_write = false;
    bool force = false;
    bool dry_run = false;
};

// Adjacent pieces of the range on the same kind of page, physically
// contiguous: what the output lists as "pages".
struct PageRun {
    std::uint64_t address = 0;
    std::uint64_t physical = 0;
    std::uint64_t size = 0;
    vmi::PageRights rights;
};

struct Change {
    std::uint64_t address = 0;
    std::string space;
    std::optional<std::uint64_t> physical;
    std::vector<PageRun> pages; // empty for a physical address
    std::vector<std::uint8_t> old_bytes;
    std::vector<std::uint8_t> new_bytes;
    bool dry_run = false;
};

std::vector<PageRun> page_runs(const std::vector<vmi::WritePiece>& pieces)
{
    std::vector<PageRun> runs;
    for (const vmi::WritePiece& piece : pieces) {
        if (!piece.rights) continue;
        if (!runs.empty() && runs.back().rights == *piece.rights &&
            runs.back().physical + runs.back().size == piece.physical) {
            runs.back().size += piece.size;
            continue;
        }
        runs.push_back({piece.address, piece.physical, piece.size, *piece.rights});
    }
    return runs;
}

std::string preview(std::span<const std::uint8_t> bytes)
{
    if (bytes.size() <= TEXT_PREVIEW_BYTES) return vmi::hex_string(bytes);
    return vmi::hex_string(bytes.first(TEXT_PREVIEW_BYTES)) + "...";
}

std::string print_change(const Change& change, vmi::OutputFormat format)
{
    if (format == vmi::OutputFormat::Text) {
        std::string where = change.space;
        if (change.physical && change.space != "physical") where += fmt::format(", physical {:#x}", *change.physical);
        std::vector<std::string> kinds;
        for (const PageRun& run : change.pages)
            if (std::find(kinds.begin(), kinds.end(), run.rights.describe()) == kinds.end())
                kinds.push_back(run.rights.describe());
        for (std::size_t i = 0; i < kinds.size(); ++i) where += fmt::format("{}{}", i ? "; " : ", page: ", kinds[i]);
        std::size_t size = change.new_bytes.size();
        return fmt::format("{} {} byte{} at {:#x} ({}): {} -> {}\n", change.dry_run ? "would write" : "wrote", size,
                           size == 1 ? "" : "s", change.address, where, preview(change.old_bytes),
                           preview(change.new_bytes));
    }
    nlohmann::json out{{"address", vmi::hex_address(change.address)}, {"space", change.space}};
    if (change.physical) out["physical"] = vmi::hex_address(*change.physical);
    out["size"] = change.new_bytes.size();
    out["old"] = vmi::hex_string(change.old_bytes);
    out["new"] = vmi::hex_string(change.new_bytes);
    out["written"] = !change.dry_run;
    if (!change.pages.empty()) {
        nlohmann::json pages = nlohmann::json::array();
        for (const PageRun& run : change.pages)
            pages.push_back({{"address", vmi::hex_address(run.address)},
                             {"physical", vmi::hex_address(run.physical)},
                             {"size", run.size},
                             {"writable", run.rights.writable},
                             {"user", run.rights.user},
                             {"nx", run.rights.no_execute},
                             {"may_be_shared", run.rights.may_be_shared()}});
        out["pages"] = pages;
    }
    return vmi::to_json_text(out) + "\n";
}

// On a running guest, a page its own tables map read-only, or a user page
// (which other processes may share), is written only with --force.
void check_rights(const std::vector<vmi::WritePiece>& pieces, bool live, bool force)
{
    if (!live || force) return;
    for (const vmi::WritePiece& piece : pieces) {
        if (!piece.rights) continue;
        if (!piece.rights->writable)
            vmi::fail("not writing: {:#x} is on a page the guest maps read-only ({}); give --force to write it anyway",
                      piece.address, piece.rights->describe());
        if (piece.rights->user)
            vmi::fail("not writing: {:#x} is on a user page, which other processes may share ({}); give --force to "
                      "write it anyway",
                      piece.address, piece.rights->describe());
    }
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

Change apply(vmi::AddressTarget& target, vmi::MemorySource& memory, const std::vector<std::uint8_t>& data,
             const WriteOptions& options)
{
    if (data.size() - 1 > ~std::uint64_t{0} - target.address())
        vmi::fail("{} bytes at {:#x} would wrap around the end of the address space", data.size(), target.address());
    Change change;
    change.address = target.address();
    change.space = target.space_name();
    change.new_bytes = data;
    change.dry_run = options.dry_run;
    // Every page of the range is translated and found to be RAM, and every
    // old byte read, before anything is written.
    std::vector<vmi::WritePiece> pieces = target.pieces(data.size());
    change.physical = pieces.front().physical;
    change.pages = page_runs(pieces);
    check_rights(pieces, memory.live(), options.force);
    change.old_bytes = vmi::read_pieces(memory, pieces);
    if (!options.dry_run) {
        vmi::write_pieces(memory, pieces, change.old_bytes, data);
        verify(target, data, vmi::read_pieces(memory, pieces));
    }
    return change;
}

int write_memory(WriteOptions& options)
{
    // The data is checked before the guest is touched.
    std::vector<std::uint8_t> data = vmi::resolve_write_data(options.data);
    // A dry run opens nothing for writing, whatever the flags say. A dump is
    // opened for writing with --writable-image, a running guest with
    // --live-write: each needs its own consent.
    options.guest.writable_image = options.writable_image && !options.dry_run;
    options.guest.writes = options.live_write && !options.dry_run;
    vmi::Guest guest(options.guest);
    vmi::OutputFormat format = options.guest.format();
    vmi::MemorySource& memory = guest.memory();
    if (!options.dry_run && !memory.writable()) {
        if (memory.live())
            vmi::fail("not writing: {} is a running guest; give --live-write to change its memory "
                      "(or --dry-run to see what would change)",
                      memory.describe());
        vmi::fail("not writing: {} is open read-only; give --writable-image to write to a dump file "
                  "(or --dry-run to see what would change)",
                  memory.describe());
    }

    Change change;
    {
        // One consistent view of a live guest, from finding its kernel and
        // translating the address to checking what was written.
        vmi::ScopedPause pause(memory, true, options.pause.limits());
        vmi::AddressTarget target = vmi::AddressTarget::resolve(options.address, guest);
        change = apply(target, memory, data, options);
        pause.resume();
    }
    vmi::print_output(print_change(change, format));
    return vmi::EXIT_OK;
}

} // namespace

int main(int argc, char** argv)
{
    WriteOptions options;
    return vmi::run_tool(
        "vmi-write", "Write guest memory by physical address, virtual address or kernel symbol.", argc, argv,
        [&](CLI::App& app) {
            vmi::add_guest_options(app, options.guest);
            vmi::add_address_options(app, options.address);
            vmi::add_write_data_options(app, options.data);
            app.add_flag("--writable-image", options.writable_image,
                         "Open a memory-dump file for writing (dumps are read-only without it)");
            app.add_flag("--live-write", options.live_write,
                         "Write to a running guest (live guests are read-only without it)");
            app.add_flag("--force", options.force,
                         "On a running guest, write even to a page it maps read-only, or to a user page "
                         "(which other processes may share)");
            app.add_flag("--dry-run", options.dry_run, "Print what would change, write nothing");
            vmi::add_pause_options(app, options.pause, /*offer_no_pause=*/false);
        },
        [&] { return write_memory(options); });
}
