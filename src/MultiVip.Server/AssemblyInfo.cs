// MultiVip is a Linux load balancer (loopback VIP pools, splice, network namespaces); the daemon uses
// Unix file modes for its secrets and is not built for Windows.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
