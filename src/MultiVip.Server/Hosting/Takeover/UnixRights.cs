using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace MultiVip.Server.Hosting.Takeover;

/// <summary>
/// Passing descriptors between processes over a Unix stream socket (SCM_RIGHTS, unix(7)), and the
/// peer's credentials (SO_PEERCRED). .NET has no API for either, so this is sendmsg(2)/recvmsg(2)
/// through libc. Linux on 64-bit only (the msghdr and cmsghdr layouts below are LP64's).
/// </summary>
/// <remarks>
/// DllImport with blittable structs and unmanaged buffers rather than LibraryImport: no marshalling
/// code is generated and the project stays free of unsafe blocks (as DescriptorLimit does).
/// </remarks>
internal static class UnixRights
{
    /// <summary>The kernel's cap on descriptors in one message is 253 (SCM_MAX_FD); a frame carries fewer.</summary>
    public const int MaxDescriptorsPerFrame = 200;

    private const int SolSocket = 1;
    private const int ScmRights = 1;
    private const int SoPeerCred = 17;
    private const int SoRcvTimeo = 20;
    private const int SoSndTimeo = 21;
    private const int MsgCmsgCloexec = 0x40000000;
    private const int MsgNoSignal = 0x4000;
    private const int CmsgHeader = 16;
    private const int Eintr = 4;

    public static bool Supported => OperatingSystem.IsLinux() && IntPtr.Size == 8;

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public IntPtr Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public IntPtr Name;
        public uint NameLength;
        public IntPtr IoVec;
        public nuint IoVecLength;
        public IntPtr Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>The uid of the process at the other end of a connected Unix socket.</summary>
    public static (int Pid, uint Uid) PeerCredentials(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[12];
        var length = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (length < 12)
        {
            throw new IOException("SO_PEERCRED returned no credentials for the takeover socket.");
        }

        return (BinaryPrimitives.ReadInt32LittleEndian(ucred), BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..]));
    }

    public static uint EffectiveUid => GetEffectiveUid();

    /// <summary>Every blocking send and receive on <paramref name="socket"/> fails after <paramref name="timeout"/> (EAGAIN).</summary>
    public static void SetTimeouts(Socket socket, TimeSpan timeout)
    {
        Span<byte> timeval = stackalloc byte[16];
        BinaryPrimitives.WriteInt64LittleEndian(timeval, (long)timeout.TotalSeconds);
        BinaryPrimitives.WriteInt64LittleEndian(timeval[8..], timeout.Ticks % TimeSpan.TicksPerSecond / 10);
        socket.SetRawSocketOption(SolSocket, SoRcvTimeo, timeval);
        socket.SetRawSocketOption(SolSocket, SoSndTimeo, timeval);
    }

    /// <summary>Sends all of <paramref name="data"/>; <paramref name="descriptors"/> travel with its first byte.</summary>
    public static void Send(Socket socket, ReadOnlySpan<byte> data, IReadOnlyList<int> descriptors)
    {
        var fd = (int)socket.Handle;
        var buffer = data.ToArray();
        var sent = 0;
        var controlLength = descriptors.Count == 0 ? 0 : CmsgHeader + Align8(descriptors.Count * sizeof(int));
        var control = controlLength == 0 ? IntPtr.Zero : Marshal.AllocHGlobal(controlLength);
        var pinned = GCHandle.Alloc(buffer, GCHandleType.Pinned);
        var iov = Marshal.AllocHGlobal(Marshal.SizeOf<IoVec>());
        try
        {
            if (controlLength > 0)
            {
                Marshal.Copy(new byte[controlLength], 0, control, controlLength);
                Marshal.WriteInt64(control, CmsgHeader + (descriptors.Count * sizeof(int)));
                Marshal.WriteInt32(control, 8, SolSocket);
                Marshal.WriteInt32(control, 12, ScmRights);
                for (var i = 0; i < descriptors.Count; i++)
                {
                    Marshal.WriteInt32(control, CmsgHeader + (i * sizeof(int)), descriptors[i]);
                }
            }

            while (sent < buffer.Length)
            {
                Marshal.StructureToPtr(new IoVec { Base = pinned.AddrOfPinnedObject() + sent, Length = (nuint)(buffer.Length - sent) }, iov, false);
                var header = new MsgHdr
                {
                    IoVec = iov,
                    IoVecLength = 1,
                    Control = sent == 0 ? control : IntPtr.Zero,
                    ControlLength = sent == 0 ? (nuint)controlLength : 0,
                };
                var n = SendMsg(fd, ref header, MsgNoSignal);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Eintr)
                    {
                        continue;
                    }

                    throw new SocketException(errno);
                }

                sent += (int)n;
            }
        }
        finally
        {
            pinned.Free();
            Marshal.FreeHGlobal(iov);
            if (control != IntPtr.Zero)
            {
                Marshal.FreeHGlobal(control);
            }
        }
    }

    /// <summary>
    /// Fills <paramref name="buffer"/> completely (false on end of stream before its first byte);
    /// descriptors that arrive meanwhile are added to <paramref name="descriptors"/>, close-on-exec.
    /// </summary>
    public static bool ReceiveExactly(Socket socket, byte[] buffer, List<int> descriptors)
    {
        var fd = (int)socket.Handle;
        var received = 0;
        var controlLength = CmsgHeader + Align8(MaxDescriptorsPerFrame * sizeof(int));
        var control = Marshal.AllocHGlobal(controlLength);
        var pinned = GCHandle.Alloc(buffer, GCHandleType.Pinned);
        var iov = Marshal.AllocHGlobal(Marshal.SizeOf<IoVec>());
        try
        {
            while (received < buffer.Length)
            {
                Marshal.StructureToPtr(new IoVec { Base = pinned.AddrOfPinnedObject() + received, Length = (nuint)(buffer.Length - received) }, iov, false);
                var header = new MsgHdr { IoVec = iov, IoVecLength = 1, Control = control, ControlLength = (nuint)controlLength };
                var n = RecvMsg(fd, ref header, MsgCmsgCloexec);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Eintr)
                    {
                        continue;
                    }

                    throw new SocketException(errno);
                }

                ReadDescriptors(control, (int)header.ControlLength, descriptors);
                if (n == 0)
                {
                    if (received == 0)
                    {
                        return false;
                    }

                    throw new EndOfStreamException("The takeover peer closed the connection in the middle of a message.");
                }

                received += (int)n;
            }

            return true;
        }
        finally
        {
            pinned.Free();
            Marshal.FreeHGlobal(iov);
            Marshal.FreeHGlobal(control);
        }
    }

    private static void ReadDescriptors(IntPtr control, int length, List<int> descriptors)
    {
        var offset = 0;
        while (offset + CmsgHeader <= length)
        {
            var cmsgLength = (int)Marshal.ReadInt64(control, offset);
            var level = Marshal.ReadInt32(control, offset + 8);
            var type = Marshal.ReadInt32(control, offset + 12);
            if (cmsgLength < CmsgHeader)
            {
                return;
            }

            if (level == SolSocket && type == ScmRights)
            {
                for (var at = CmsgHeader; at + sizeof(int) <= cmsgLength; at += sizeof(int))
                {
                    descriptors.Add(Marshal.ReadInt32(control, offset + at));
                }
            }

            offset += CmsgHeader + Align8(cmsgLength - CmsgHeader);
        }
    }

    private static int Align8(int length) => (length + 7) & ~7;

    [DllImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint SendMsg(int socket, ref MsgHdr message, int flags);

    [DllImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint RecvMsg(int socket, ref MsgHdr message, int flags);

    [DllImport("libc", EntryPoint = "geteuid")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern uint GetEffectiveUid();
}
