//! The `qualify` binary: parses the command line and hands over to the library.

/// mimalloc instead of glibc's allocator: per-thread heaps without the arena locks the writer
/// thread and the request threads contended on (perf: a tenth of the writer's waits), and
/// cheaper small allocations on the request path.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    qualify_cli::main()
}
