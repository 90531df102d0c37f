#pragma once
// vmi-write's careful write: the target range, planned page by page before
// any byte is written, and written so that a failure partway leaves a
// report of exactly which bytes changed.
//
// Each piece is one page's worth of the range (split at 4 KiB boundaries),
// with where its bytes are in guest-physical memory and, for a virtual
// address, the page's rights as the guest's own page tables give them.
// write_pieces() writes the pieces in order. When one fails, the bytes
// written so far are put back (the old bytes were read while planning), the
// range is read back, and the error says what it now holds: nothing changed,
// or which bytes hold the new data, or that it cannot be told.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmi/memory/MemorySource.hpp"

namespace vmi {

// A page's access rights from the page walk (see Translation).
struct PageRights {
    bool writable = false;
    bool user = false;
    bool no_execute = false;

    // A user page may be shared with other processes: file-backed pages,
    // copy-on-write pages after fork, shared memory, KSM. Telling for sure
    // would mean walking every process's page tables, so every user page
    // counts as possibly shared.
    bool may_be_shared() const { return user; }
    // "kernel read-write no-exec", "user read-only, may be shared"
    std::string describe() const;
    bool operator==(const PageRights&) const = default;
};

struct WritePiece {
    std::uint64_t offset = 0;   // from the first byte of the range
    std::uint64_t address = 0;  // the range's own address of that byte (virtual, or physical for --pa)
    std::uint64_t physical = 0; // guest-physical address of that byte
    std::size_t size = 0;
    std::optional<PageRights> rights; // none for a physical address
};

// Writes `data` over `pieces` (which cover it in order) into `memory`.
// `old_bytes` are the range's bytes before. Throws vmi::Error when a piece
// cannot be written, after trying to put back what was written; the
// message names the failing address and what the range holds now.
void write_pieces(MemorySource& memory, const std::vector<WritePiece>& pieces, std::span<const std::uint8_t> old_bytes,
                  std::span<const std::uint8_t> data);

// The range's bytes, read piece by piece.
std::vector<std::uint8_t> read_pieces(MemorySource& memory, const std::vector<WritePiece>& pieces);

} // namespace vmi
