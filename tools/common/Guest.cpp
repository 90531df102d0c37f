#include "common/Guest.hpp"

#include "vmi/base/Diagnostics.hpp"

namespace vmi {
namespace {

Session open_session(const GuestOptions& options, bool memory_optional)
{
    diag::set_verbose(options.verbose);
    options.format();                 // reject a bad --format before touching the guest
    linux_settings(options, nullptr); // and a bad --pagemode
    return Session::open(session_settings(options, memory_optional));
}

} // namespace

Guest::Guest(const GuestOptions& options, bool memory_optional)
    : session_(open_session(options, memory_optional)),
      kernel_(session_.has_memory() ? &session_.memory() : nullptr, linux_settings(options, session_.config_entry()))
{}

} // namespace vmi
