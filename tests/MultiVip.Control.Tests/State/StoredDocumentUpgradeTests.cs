using System.Text.Json.Nodes;
using MultiVip.Control.State;
using MultiVip.Model.ReservedIps;
using MultiVip.Model.Services;

namespace MultiVip.Control.Tests.State;

/// <summary>The upgrade steps of <see cref="StoredDocumentUpgrades"/>, each on a document of its old format.</summary>
public sealed class StoredDocumentUpgradeTests
{
    // Format 1 as the build of 2026-12-01 wrote it (the API's JSON settings, derived values included).
    private const string FormatOneService = """
        {"name":"web","label":"web","description":null,"location":"local","createdAt":"2026-12-01T19:22:34.5676152+00:00","version":3,
         "deployment":{"name":"web","slot":"Production","createdAt":"2026-12-01T19:22:35.3569576+00:00",
          "virtualIps":[{"name":"Vip1","address":"127.66.1.1","isDnsProgrammed":true,"reservedIpName":null}],
          "virtualMachines":[{"name":"vm1","address":"127.0.0.11","version":2,"endpoints":[{"name":"lb","protocol":"tcp","localPort":8181,"publicPort":81,
           "virtualIpName":"Vip1","loadBalancedSetName":"set","probe":{"protocol":"http","port":8181,"path":"/health","intervalInSeconds":5,"timeoutInSeconds":11,"threshold":2},
           "acl":[],"idleTimeoutInMinutes":10,"distribution":"sourceIP","directServerReturn":false,"proxyProtocol":"v2"}]}],
          "defaultVirtualIp":{"name":"Vip1","address":"127.66.1.1","isDnsProgrammed":true,"reservedIpName":null}}}
        """;

    private const string FormatOneReservedIp = """
        {"name":"kept","address":"127.66.1.3","id":"1b52d452-5578-4387-92c7-a8061ffccd20","label":"kept","location":"local","createdAt":"2026-12-01T19:22:35.5330363+00:00",
         "version":2,"serviceName":"web","deploymentName":"web","virtualIpName":"Vip1","state":"Created","inUse":true}
        """;

    [Fact]
    public void Format_one_to_two_drops_the_values_computed_from_the_state()
    {
        var service = JsonNode.Parse(FormatOneService)!.AsObject();
        StoredDocumentUpgrades.Upgrade(typeof(CloudService), service, fromFormat: 1);
        var deployment = service["deployment"]!.AsObject();
        Assert.False(deployment.ContainsKey("defaultVirtualIp"));
        Assert.False(deployment["virtualMachines"]![0]!["endpoints"]![0]!["probe"]!.AsObject().ContainsKey("threshold"));
        Assert.Equal(8181, (int)deployment["virtualMachines"]![0]!["endpoints"]![0]!["probe"]!["port"]!);

        var reserved = JsonNode.Parse(FormatOneReservedIp)!.AsObject();
        StoredDocumentUpgrades.Upgrade(typeof(ReservedIp), reserved, fromFormat: 1);
        Assert.False(reserved.ContainsKey("state") || reserved.ContainsKey("inUse"));
        Assert.Equal("web", (string)reserved["serviceName"]!);
    }

    [Fact]
    public void Format_one_documents_read_as_the_aggregates_they_were_and_are_rewritten_in_the_current_format()
    {
        var service = StoredDocumentJson.Read<CloudService>(FormatOneService);
        var endpoint = service.Deployment!.VirtualMachines.Single().Endpoints.Single();
        Assert.Equal(3, service.Version);
        Assert.Equal("Vip1", service.Deployment.DefaultVirtualIp.Name);
        Assert.Equal(ProbeProtocol.Http, endpoint.Probe!.Protocol);
        Assert.Equal(2, endpoint.Probe.Threshold);
        Assert.Equal(LoadBalancerDistribution.SourceIP, endpoint.Distribution);
        Assert.Equal(ProxyProtocolVersion.V2, endpoint.ProxyProtocol);
        var reserved = StoredDocumentJson.Read<ReservedIp>(FormatOneReservedIp);
        Assert.True(reserved.InUse);

        var rewritten = StoredDocumentJson.Write(service);
        Assert.StartsWith($"{{\"{StoredDocumentJson.FormatProperty}\":{StoredDocumentUpgrades.CurrentFormat},", rewritten);
        var again = StoredDocumentJson.Read<CloudService>(rewritten);
        Assert.Equal(StoredDocumentJson.Write(again), rewritten);
        Assert.Equal(endpoint, again.Deployment!.VirtualMachines.Single().Endpoints.Single() with { Acl = endpoint.Acl });
        Assert.Equal(reserved, StoredDocumentJson.Read<ReservedIp>(StoredDocumentJson.Write(reserved)));
    }

    [Fact]
    public void Damaged_documents_are_refused_with_a_sentence_naming_them()
    {
        var missingName = JsonNode.Parse(FormatOneReservedIp)!.AsObject();
        missingName.Remove("address");
        var error = Assert.Throws<InvalidDataException>(() => StoredDocumentJson.Read<ReservedIp>(missingName.ToJsonString()));
        Assert.Contains("reserved IP 'kept'", error.Message);
        Assert.Contains("address", error.Message);

        var badEnum = FormatOneService.Replace("\"protocol\":\"tcp\"", "\"protocol\":\"sctp\"");
        error = Assert.Throws<InvalidDataException>(() => StoredDocumentJson.Read<CloudService>(badEnum));
        Assert.Contains("cloud service 'web'", error.Message);
        Assert.Contains("'sctp' is not a TransportProtocol", error.Message);

        error = Assert.Throws<InvalidDataException>(() => StoredDocumentJson.Read<CloudService>("{\"name\":"));
        Assert.Contains("not valid JSON", error.Message);
    }
}
