#pragma once
// The check modes' findings as structured entries in systemd's journal
// (sd_journal_send), one entry a finding or error, for alarms that match on
// fields rather than on text:
//   MESSAGE, PRIORITY (4 a finding, 3 an error), MESSAGE_ID (one per kind,
//   below), VMI_DOMAIN, VMI_CHECK, and what the finding is about: VMI_PID and
//   VMI_COMM (a process), VMI_MODULE (a module; for a hook, the owning module),
//   VMI_HOOK_KIND, VMI_HOOKED, VMI_TARGET (a hook).
// `--journal auto` (the default) sends them when the tool runs under systemd
// with its output in the journal ($JOURNAL_STREAM names its stdout or stderr).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vmi {

// `journalctl MESSAGE_ID=...` finds every entry of one kind.
inline constexpr std::string_view JOURNAL_HIDDEN_PROCESS = "3f607ace05fd4a8f8efb3b416fa9c17d";
inline constexpr std::string_view JOURNAL_HIDDEN_MODULE = "3824ec09054545428a2c1001e84e553b";
inline constexpr std::string_view JOURNAL_KERNEL_HOOK = "6e91e11e6e3a4dcfba522679a5f16b84";
inline constexpr std::string_view JOURNAL_CHECK_ERROR = "ff1dcb10eaba4e719046ff989ec45232";

inline constexpr int JOURNAL_PRIORITY_ERROR = 3;   // LOG_ERR
inline constexpr int JOURNAL_PRIORITY_FINDING = 4; // LOG_WARNING

struct JournalEntry {
    int priority = JOURNAL_PRIORITY_FINDING;
    std::string_view message_id;
    std::string message;
    std::vector<std::pair<std::string, std::string>> fields; // VMI_* names and values
};

enum class JournalMode { automatic, on, off };
// "auto", "yes" or "no"; throws vmi::Error on anything else.
JournalMode parse_journal_mode(std::string_view text);
// Whether to send: yes, no, or (auto) when $JOURNAL_STREAM is this process's
// stdout or stderr.
bool journal_wanted(JournalMode mode);

// Sends one entry; throws vmi::Error when the journal does not take it.
void send_to_journal(const JournalEntry& entry);

} // namespace vmi
