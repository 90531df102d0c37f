#include "common/CheckJournal.hpp"

#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fmt/format.h>
#include <systemd/sd-journal.h>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// A field's value as one iovec entry wants it: NAME=VALUE, the value cut at a
// sane size (guest bytes are in it: a module name, a process name).
constexpr std::size_t MAX_VALUE = 4096;
// Where journald listens for sd_journal_send's datagrams.
constexpr const char* JOURNAL_SOCKET = "/run/systemd/journal/socket";

// $JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected to the
// journal (systemd.exec(5)).
bool stream_is_journal(int fd, std::string_view journal_stream)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0) return false;
    return journal_stream == fmt::format("{}:{}", st.st_dev, st.st_ino);
}

} // namespace

JournalMode parse_journal_mode(std::string_view text)
{
    if (text == "auto") return JournalMode::automatic;
    if (text == "yes") return JournalMode::on;
    if (text == "no") return JournalMode::off;
    fail("--journal: unknown value '{}' (expected auto, yes or no)", text);
}

bool journal_wanted(JournalMode mode)
{
    if (mode != JournalMode::automatic) return mode == JournalMode::on;
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr || *stream == '\0') return false;
    return stream_is_journal(1, stream) || stream_is_journal(2, stream);
}

void send_to_journal(const JournalEntry& entry)
{
    // sd_journal_sendv drops the entry without a word when no journald listens.
    if (::access(JOURNAL_SOCKET, F_OK) != 0)
        fail("no journal to take the entries: {} does not exist (is systemd-journald running?)", JOURNAL_SOCKET);
    std::vector<std::string> items;
    items.push_back("MESSAGE=" + entry.message.substr(0, MAX_VALUE));
    items.push_back(fmt::format("PRIORITY={}", entry.priority));
    items.push_back(fmt::format("MESSAGE_ID={}", entry.message_id));
    items.push_back("SYSLOG_IDENTIFIER=" + std::string(program_invocation_short_name));
    for (const auto& [name, value] : entry.fields) items.push_back(name + "=" + value.substr(0, MAX_VALUE));
    std::vector<struct iovec> vector;
    vector.reserve(items.size());
    for (std::string& item : items) vector.push_back({item.data(), item.size()});
    int result = sd_journal_sendv(vector.data(), static_cast<int>(vector.size()));
    if (result < 0) fail("the journal did not take an entry: {}", std::strerror(-result));
}

} // namespace vmi
