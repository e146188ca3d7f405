//! Giving freed heap memory back to the operating system after a large job. glibc's allocator
//! keeps what a retention run or a long index drain freed in its per-thread arenas, so a server
//! that idles at 30 MB held over 400 MB after a 1M-message run until it was restarted.
//! [`release_free_memory`] asks it to return the free pages; elsewhere it does nothing.
//! [`configure_allocator`] keeps the arenas few and large blocks mapped on their own to begin
//! with.

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

/// Blocks this large or larger are mapped on their own and given back when freed. glibc's
/// default threshold moves up to the largest block freed so far (up to 32 MB): after the first
/// sign-in freed argon2's 19 MB work area, every later one took its 19 MB from the heap and
/// kept it — ten agents signing in raised the chat benchmark's server from 39 to 232 MB. With
/// the threshold fixed, the same run peaks at 71 MB.
const MMAP_THRESHOLD: i32 = 1 << 20;

/// Sets glibc's allocator up for a long-running server: at most [`ARENAS`] arenas and a fixed
/// [`MMAP_THRESHOLD`]. Called once at start, before the runtime's threads exist.
/// `MALLOC_ARENA_MAX` and `MALLOC_MMAP_THRESHOLD_` in the environment, when set, win (glibc
/// reads them at the first allocation; this keeps them).
pub fn configure_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            // SAFETY: mallopt only sets one of the allocator's tuning parameters; M_ARENA_MAX
            // takes effect for arenas created afterwards.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, ARENAS);
            }
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            // SAFETY: as above; M_MMAP_THRESHOLD applies to allocations made afterwards and
            // turns off the threshold's dynamic adjustment.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            }
        }
    }
}
