#pragma once
// Who must know, at any moment and even from a signal handler, whether a
// pause request of ours is in force on a live guest: the pause lock's record
// (so a later run can tell a guest that a dead tool left paused) and the
// guardian process (which resumes the guest if this process dies, even by
// SIGKILL). A live backend tells it through its LivePause; ScopedPause hands
// it over with MemorySource::set_pause_witness().
namespace vmi {

class PauseWitness {
public:
    // Just before the pause request goes out: from here on the guest may be
    // paused by us.
    virtual void pause_requested() noexcept = 0;
    // The guest runs again (resumed by us), or the request surely did not
    // pause it. Async-signal-safe.
    virtual void pause_over() noexcept = 0;

protected:
    ~PauseWitness() = default;
};

} // namespace vmi
