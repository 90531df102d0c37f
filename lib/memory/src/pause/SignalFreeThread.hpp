#pragma once
// A thread that no signal is delivered to: it starts with every signal
// blocked, so a Ctrl-C or a kill always lands on the thread that defers it
// while a guest is paused (see ScopedPause), never on a helper thread whose
// default action would end the process with the guest still paused.
#include <csignal>
#include <thread>
#include <utility>

#include <pthread.h>

namespace vmi {

template <typename Function>
std::thread signal_free_thread(Function&& function)
{
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    // A new thread takes the mask of the thread that creates it.
    std::thread thread;
    try {
        thread = std::thread(std::forward<Function>(function));
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        throw;
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return thread;
}

} // namespace vmi
