using System.Runtime.InteropServices;
using System.Text;

namespace MultiVip.DataPlane.Nftables;

/// <summary>
/// libnftables (Debian's libnftables1, what the nft executable itself links) in this process: one context
/// kept for the plane's life, its output and errors buffered. It removes the fixed cost a commit paid for
/// starting an nft process (exec, dynamic linking, context setup); the text committed and the messages of a
/// refused transaction are the same as <c>nft -f -</c>'s (only the file name in a message's location
/// differs: <c>&lt;cmdline&gt;</c> instead of <c>/dev/stdin</c>). Not thread-safe by itself (a context is
/// not), so every call holds <see cref="_gate"/>.
/// </summary>
internal sealed class LibNftables : IDisposable
{
    private const string Library = "libnftables.so.1";

    private readonly Lock _gate = new();
    private IntPtr _context;

    private LibNftables(IntPtr context) => _context = context;

    /// <summary>The library's context, or null when libnftables.so.1 is not installed or gives no context (the caller runs nft then).</summary>
    public static LibNftables? TryCreate()
    {
        if (!NativeLibrary.TryLoad(Library, typeof(LibNftables).Assembly, DllImportSearchPath.SafeDirectories, out _))
        {
            return null;
        }

        try
        {
            var context = NativeMethods.nft_ctx_new(0);
            if (context == IntPtr.Zero)
            {
                return null;
            }

            if (NativeMethods.nft_ctx_buffer_output(context) != 0 || NativeMethods.nft_ctx_buffer_error(context) != 0)
            {
                NativeMethods.nft_ctx_free(context);
                return null;
            }

            return new LibNftables(context);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Runs <paramref name="commands"/> as one transaction (as <c>nft -f</c> does): 0 and the output, or nft's exit code and its error text.</summary>
    public (int Code, string Output, string Error) Run(string commands)
    {
        var buffer = new byte[Encoding.UTF8.GetByteCount(commands) + 1];
        Encoding.UTF8.GetBytes(commands, buffer);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_context == IntPtr.Zero, this);
            var result = NativeMethods.nft_run_cmd_from_buffer(_context, buffer);

            // The buffers are read (and reset) by the get calls: read both every time, so no message of one
            // run shows up in the next.
            var output = Marshal.PtrToStringUTF8(NativeMethods.nft_ctx_get_output_buffer(_context)) ?? "";
            var error = Marshal.PtrToStringUTF8(NativeMethods.nft_ctx_get_error_buffer(_context)) ?? "";
            return (result == 0 ? 0 : 1, output, error);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_context != IntPtr.Zero)
            {
                NativeMethods.nft_ctx_free(_context);
                _context = IntPtr.Zero;
            }
        }
    }

    /// <summary>
    /// libnftables' public API (nftables/libnftables.h). DllImport with blittable arguments only (a pinned
    /// UTF-8 byte array in, char pointers out), so no marshalling code is generated.
    /// </summary>
    private static class NativeMethods
    {
        [DllImport(Library)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern IntPtr nft_ctx_new(uint flags);

        [DllImport(Library)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern void nft_ctx_free(IntPtr context);

        [DllImport(Library)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int nft_ctx_buffer_output(IntPtr context);

        [DllImport(Library)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int nft_ctx_buffer_error(IntPtr context);

        [DllImport(Library)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern IntPtr nft_ctx_get_output_buffer(IntPtr context);

        [DllImport(Library)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern IntPtr nft_ctx_get_error_buffer(IntPtr context);

        [DllImport(Library)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int nft_run_cmd_from_buffer(IntPtr context, byte[] buffer);
    }
}
