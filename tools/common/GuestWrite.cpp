#include "common/GuestWrite.hpp"

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// Runs of bytes where `now` differs from `old`, as "0xA-0xB" (the pieces'
// own addresses), at most a few of them.
std::string changed_runs(const std::vector<WritePiece>& pieces, std::span<const std::uint8_t> old_bytes,
                         std::span<const std::uint8_t> now, std::size_t& changed)
{
    constexpr std::size_t MAX_RUNS = 4;
    std::vector<std::string> runs;
    changed = 0;
    for (const WritePiece& piece : pieces) {
        std::size_t i = 0;
        while (i < piece.size) {
            std::size_t at = piece.offset + i;
            if (now[at] == old_bytes[at]) {
                ++i;
                continue;
            }
            std::size_t start = i;
            while (i < piece.size && now[piece.offset + i] != old_bytes[piece.offset + i]) ++i;
            changed += i - start;
            std::string run = i - start == 1 ? fmt::format("{:#x}", piece.address + start)
                                             : fmt::format("{:#x}-{:#x}", piece.address + start, piece.address + i - 1);
            if (runs.size() <= MAX_RUNS) runs.push_back(run);
        }
    }
    std::string out;
    for (std::size_t r = 0; r < runs.size() && r < MAX_RUNS; ++r) out += (r ? ", " : "") + runs[r];
    if (runs.size() > MAX_RUNS) out += ", ...";
    return out;
}

} // namespace

std::string PageRights::describe() const
{
    return fmt::format("{} {}{}{}", user ? "user" : "kernel", writable ? "read-write" : "read-only",
                       no_execute ? " no-exec" : "", may_be_shared() ? ", may be shared" : "");
}

std::vector<std::uint8_t> read_pieces(MemorySource& memory, const std::vector<WritePiece>& pieces)
{
    std::size_t size = pieces.empty() ? 0 : pieces.back().offset + pieces.back().size;
    std::vector<std::uint8_t> bytes(size);
    for (const WritePiece& piece : pieces)
        memory.read(piece.physical, std::span(bytes).subspan(piece.offset, piece.size));
    return bytes;
}

void write_pieces(MemorySource& memory, const std::vector<WritePiece>& pieces, std::span<const std::uint8_t> old_bytes,
                  std::span<const std::uint8_t> data)
{
    std::size_t failed = 0;
    std::string why;
    for (; failed < pieces.size(); ++failed) {
        const WritePiece& piece = pieces[failed];
        try {
            memory.write(piece.physical, data.subspan(piece.offset, piece.size));
        } catch (const std::exception& e) {
            why = e.what();
            break;
        }
    }
    if (failed == pieces.size()) return;

    // Put back the pieces up to the one that failed (it may be half written).
    const WritePiece& bad = pieces[failed];
    std::string where = fmt::format("write failed at {:#x} (physical {:#x}): {}", bad.address, bad.physical, why);
    std::vector<WritePiece> touched(pieces.begin(), pieces.begin() + static_cast<std::ptrdiff_t>(failed) + 1);
    std::string restore_problem;
    for (const WritePiece& piece : touched) {
        try {
            memory.write(piece.physical, old_bytes.subspan(piece.offset, piece.size));
        } catch (const std::exception& e) {
            if (restore_problem.empty()) restore_problem = e.what();
        }
    }
    std::vector<std::uint8_t> now;
    try {
        now = read_pieces(memory, pieces);
    } catch (const std::exception& e) {
        std::uint64_t last = touched.back().address + touched.back().size - 1;
        fail("{}; cannot tell which bytes from {:#x} to {:#x} changed: reading them back failed: {}", where,
             pieces.front().address, last, e.what());
    }
    std::size_t changed = 0;
    std::string runs = changed_runs(pieces, old_bytes, now, changed);
    if (changed == 0) fail("{}; the bytes already written were put back: nothing changed", where);
    fail("{}; {} byte{} now differ from before ({}){}", where, changed, changed == 1 ? "" : "s", runs,
         restore_problem.empty() ? "" : fmt::format(": putting back the old bytes failed: {}", restore_problem));
}

} // namespace vmi
