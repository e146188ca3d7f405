//! Giving freed heap memory back to the operating system after a large job. glibc's allocator
//! keeps what a retention run or a long index drain freed in its per-thread arenas, so a server
//! that idles at 30 MB held over 400 MB after a 1M-message run until it was restarted.
//! [`release_free_memory`] asks it to return the free pages; elsewhere it does nothing.
//! [`limit_arenas`] keeps the arenas few to begin with.

/// Returns the allocator's free memory to the system (glibc `malloc_trim`). Cheap enough for
/// the end of a job; not for every request.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only inspects and shrinks the allocator's own free lists, under the
    // allocator's locks; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// At most this many glibc malloc arenas (its default is eight per core). Each thread that
/// allocates may get an arena of its own, and memory freed in one is not reused by another:
/// with the blocking threads that sealing, files and search use, 100 chat visitors and 10
/// agents (`benches/chat.sh`) left the server at 357 MB; with two arenas, 130 MB.
const ARENAS: i32 = 2;

/// Limits glibc's malloc arenas to [`ARENAS`]; called once at start, before the runtime's
/// threads exist. `MALLOC_ARENA_MAX` in the environment, when set, wins (glibc reads it at the
/// first allocation; this keeps it).
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets one of the allocator's tuning parameters; M_ARENA_MAX
        // takes effect for arenas created afterwards.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}
