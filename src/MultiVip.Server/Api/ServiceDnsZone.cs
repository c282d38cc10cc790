namespace MultiVip.Server.Api;

/// <summary>
/// The zone the services are named in (--dns-zone, without the trailing dot): &lt;service&gt;.&lt;zone&gt;
/// is the name the embedded DNS server answers with the default VIP. Read views use it to show a
/// deployment's Url as Azure did (http://&lt;service&gt;.cloudapp.net/).
/// </summary>
internal sealed record ServiceDnsZone(string Zone)
{
    /// <summary>Lower case, as DNS names print (Uri would lower-case the host anyway).</summary>
    public string Url(string serviceName) => $"http://{serviceName.ToLowerInvariant()}.{Zone}/";
}
