using System.Net;
using System.Text;
using System.Text.Json;
using CsCheck;
using MultiVip.Contracts;
using MultiVip.Model.Errors;
using Xunit.Abstractions;

namespace MultiVip.Server.Tests;

/// <summary>
/// Property-based fuzzing of every mutating route with random bodies, names and values: the answer
/// is never a 5xx, every 4xx says what is wrong, and a refused request changes nothing.
/// </summary>
public sealed class ApiFuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Names = ["myService", "myVM1", "Vip1", "Vip2", "myEndpoint", "myLBSet", "", " ", "a/b", "ü-名前", "x%00y", new string('n', 300), "-", "..", "Vip1\n"];

    private static readonly string[] Fields = ["name", "protocol", "localPort", "publicPort", "virtualIpName", "loadBalancedSetName", "defaultProbe", "probe", "acl", "idleTimeoutInMinutes", "distribution", "directServerReturn", "proxyProtocol", "address", "label", "location", "serviceName", "endpoints", "order", "action", "remoteSubnet", "port", "path", "intervalInSeconds", "timeoutInSeconds", "unknownField", "NAME"];

    private static readonly Gen<string> GenName = Gen.OneOf(Gen.OneOfConst(Names), Gen.String.AlphaNumeric, Gen.String);

    private static readonly Gen<string> GenJsonValue = Gen.Recursive<string>((depth, self) =>
    {
        var scalar = Gen.OneOf(
            Gen.Int.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            Gen.Long.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture) + "0000000000"),
            Gen.Double.Select(d => double.IsFinite(d) ? d.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "1e999"),
            Gen.OneOfConst("true", "false", "null", "\"tcp\"", "\"udp\"", "\"http\"", "\"permit\"", "\"deny\"", "\"sourceIP\"", "\"10.0.0.0/8\"", "\"10.0.0.0/33\"", "\"/health\"", "\"127.0.0.1\"", "\"v2\"", "80", "0", "70000", "-1", "65535"),
            GenName.Select(s => JsonSerializer.Serialize(s)));
        if (depth > 3)
        {
            return scalar;
        }

        var array = self.Array[0, 4].Select(items => "[" + string.Join(",", items) + "]");
        var obj = Gen.Select(Gen.OneOfConst(Fields), self).Array[0, 6].Select(pairs => "{" + string.Join(",", pairs.Select(p => JsonSerializer.Serialize(p.Item1) + ":" + p.Item2)) + "}");
        return Gen.Frequency((6, scalar), (1, array), (3, obj));
    });

    private static readonly Gen<string> GenBody = Gen.Frequency(
        (6, Gen.Select(Gen.OneOfConst(Fields), GenJsonValue).Array[0, 8].Select(pairs => "{" + string.Join(",", pairs.Select(p => JsonSerializer.Serialize(p.Item1) + ":" + p.Item2)) + "}")),
        (2, GenJsonValue),
        (1, Gen.String),
        (1, Gen.OneOfConst("", "{", "}", "{\"name\":", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "{\"name\":\"\\ud800\"}", "\u0000", new string('[', 5000), "{\"name\":\"" + new string('x', 200_000) + "\"}")));

    // Well-typed values for the fields each body type knows: these bodies get past JSON binding and
    // exercise the domain rules (and sometimes succeed).
    private static readonly Dictionary<string, Gen<string>> Typed = new()
    {
        ["name"] = GenName.Select(n => JsonSerializer.Serialize(n)),
        ["label"] = GenName.Select(n => JsonSerializer.Serialize(n)),
        ["location"] = GenName.Select(n => JsonSerializer.Serialize(n)),
        ["description"] = GenName.Select(n => JsonSerializer.Serialize(n)),
        ["protocol"] = Gen.OneOfConst("\"tcp\"", "\"udp\"", "\"TCP\"", "\"tpc\"", "\"\""),
        ["localPort"] = Gen.Int[-5, 70_000].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ["publicPort"] = Gen.Int[-5, 70_000].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ["virtualIpName"] = Gen.OneOfConst("\"Vip1\"", "\"Vip2\"", "\"vip9\"", "null"),
        ["loadBalancedSetName"] = Gen.OneOfConst("\"myLBSet\"", "null", "\"\""),
        ["defaultProbe"] = Gen.OneOfConst("true", "false", "null"),
        ["idleTimeoutInMinutes"] = Gen.Int[0, 40].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ["distribution"] = Gen.OneOfConst("\"none\"", "\"sourceIP\"", "\"sourceIPProtocol\"", "\"random\""),
        ["directServerReturn"] = Gen.OneOfConst("true", "false"),
        ["proxyProtocol"] = Gen.OneOfConst("\"none\"", "\"v1\"", "\"v2\"", "\"v3\""),
        ["address"] = Gen.OneOfConst("\"127.0.0.21\"", "\"127.0.0.22\"", "\"10.1\"", "\"::1\"", "\"300.0.0.1\"", "\"010.0.0.1\""),
        ["serviceName"] = Gen.OneOfConst("\"myService\"", "\"nope\"", "null"),
        ["acl"] = Gen.OneOfConst("[]", "[{\"order\":1,\"action\":\"permit\",\"remoteSubnet\":\"10.0.0.0/8\"}]", "[{\"order\":1,\"action\":\"deny\",\"remoteSubnet\":\"10.0.0.1/8\"}]", "[null]"),
        ["probe"] = Gen.OneOfConst("null", "{\"protocol\":\"tcp\"}", "{\"protocol\":\"http\",\"path\":\"/health\"}", "{\"protocol\":\"tcp\",\"path\":\"/x\"}", "{\"protocol\":\"http\",\"intervalInSeconds\":1}"),
    };

    private static Gen<string> TypedBody(params string[] fields) =>
        Gen.Int[0, (1 << fields.Length) - 1].SelectMany(mask =>
        {
            var chosen = fields.Where((_, i) => (mask & (1 << i)) != 0).ToArray();
            return chosen.Length == 0
                ? Gen.Const("{}")
                : chosen.Select(f => Typed[f].Select(v => JsonSerializer.Serialize(f) + ":" + v)).ToArray() is var parts
                    ? Gen.Select(Gen.Const(0), parts[0]).SelectMany(first => parts.Skip(1).Aggregate(Gen.Const(new List<string> { first.Item2 }), (acc, g) => acc.SelectMany(list => g.Select(v => new List<string>(list) { v })))).Select(list => "{" + string.Join(",", list) + "}")
                    : Gen.Const("{}");
        });

    private static readonly string[] EndpointFields = ["name", "protocol", "localPort", "publicPort", "virtualIpName", "loadBalancedSetName", "defaultProbe", "probe", "acl", "idleTimeoutInMinutes", "distribution", "proxyProtocol"];

    private static readonly (HttpMethod Method, Func<string, string, string, string> Path, Gen<string> Typed)[] Routes =
    [
        (HttpMethod.Post, (s, _, _) => ApiRoutes.Services, TypedBody("name", "label", "location")),
        (HttpMethod.Delete, (s, _, _) => ApiRoutes.Service(s), Gen.Const("")),
        (HttpMethod.Post, (s, _, _) => ApiRoutes.VirtualIps(s), TypedBody("name")),
        (HttpMethod.Delete, (s, v, _) => ApiRoutes.VirtualIp(s, v), Gen.Const("")),
        (HttpMethod.Post, (s, _, _) => ApiRoutes.Vms(s), TypedBody("name", "address")),
        (HttpMethod.Put, (s, v, _) => ApiRoutes.Vm(s, v), Gen.Const("{\"endpoints\":[]}")),
        (HttpMethod.Delete, (s, v, _) => ApiRoutes.Vm(s, v), Gen.Const("")),
        (HttpMethod.Post, (s, v, _) => ApiRoutes.Endpoints(s, v), TypedBody(EndpointFields)),
        (HttpMethod.Put, (s, v, e) => ApiRoutes.Endpoint(s, v, e), TypedBody(EndpointFields)),
        (HttpMethod.Delete, (s, v, e) => ApiRoutes.Endpoint(s, v, e), Gen.Const("")),
        (HttpMethod.Patch, (s, _, e) => ApiRoutes.LoadBalancedSet(s, e), TypedBody("virtualIpName", "protocol", "localPort", "publicPort", "probe", "acl", "distribution")),
        (HttpMethod.Post, (_, _, _) => ApiRoutes.ReservedIps, TypedBody("name", "location", "label", "serviceName", "virtualIpName")),
        (HttpMethod.Delete, (_, _, e) => ApiRoutes.ReservedIp(e), Gen.Const("")),
        (HttpMethod.Put, (_, _, e) => ApiRoutes.ReservedIpAssociation(e), TypedBody("serviceName", "virtualIpName")),
        (HttpMethod.Delete, (_, _, e) => ApiRoutes.ReservedIpAssociation(e), Gen.Const("")),
    ];

    [Fact]
    public async Task Random_requests_never_get_a_5xx_and_refusals_change_nothing()
    {
        await using var f = await ServerFixture.StartAsync(configure: o => o with { MaxRequestBodyBytes = 64 * 1024 });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Services, new CreateServiceRequest { Name = "myService" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Vms("myService"), new AddVmRequest { Name = "myVM1", Address = "127.0.0.11" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.VirtualIps("myService"), new AddVirtualIpRequest { Name = "Vip2" });
        await f.SendAsync(HttpMethod.Post, ApiRoutes.Endpoints("myService", "myVM1"), new EndpointRequest { Name = "myEndpoint", Protocol = "tcp", LocalPort = 8080, PublicPort = 80, VirtualIpName = "Vip2" });

        var tried = 0;
        var refused = 0;
        var accepted = 0;
        // Names from the seeded state half of the time, so requests reach the rules behind the lookups.
        var known = Gen.Frequency((1, GenName), (1, Gen.OneOfConst("myService", "myVM1", "Vip2", "myEndpoint", "myLBSet")));
        var gen = Gen.Int[0, Routes.Length - 1].SelectMany(route =>
            Gen.Select(Gen.Const(route), known, known, known, Gen.Frequency((1, GenBody), (1, Routes[route].Typed))));
        await gen.SampleAsync(async (route, service, vm, endpoint, body) =>
        {
            var (method, path, _) = Routes[route];
            var generation = f.Server.Control.Current.Generation;
            using var request = new HttpRequestMessage(method, path(service, vm, endpoint));
            if (method != HttpMethod.Delete)
            {
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }

            using var response = await f.Http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Interlocked.Increment(ref tried);
            var status = (int)response.StatusCode;
            Assert.True(status < 500, $"{method} {request.RequestUri} with {Shorten(body)} answered {status}: {text}");
            if (status >= 400)
            {
                Interlocked.Increment(ref refused);
                var error = JsonSerializer.Deserialize<ErrorBody>(text, ApiJson.Options)!;
                Assert.False(string.IsNullOrWhiteSpace(error.Code));
                Assert.True(error.Message.Length > 10, $"unhelpful message for {status}: {error.Message}");
                // A refused request changes nothing (concurrent samples could move the generation: run serially).
                Assert.Equal(generation, f.Server.Control.Current.Generation);
            }
            else
            {
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                Interlocked.Increment(ref accepted);
            }
        }, iter: 1500, threads: 1);

        output.WriteLine($"{tried} fuzzed requests: {refused} refused with 4xx, {accepted} accepted, 0 server errors");
        Assert.True(refused > tried / 2);
        Assert.True(accepted > 0, "no fuzzed request was valid: the generators do not reach the rules behind binding");

        // The server is still healthy afterwards, and what it serves matches what it stored.
        var services = await f.GetAsync<List<ServiceView>>(ApiRoutes.Services);
        Assert.Equal(f.Server.Control.Current.Services.Count, services.Count);
        await f.RestartAsync();
        Assert.Equal(services.Select(s => (s.Name, s.Version)), (await f.GetAsync<List<ServiceView>>(ApiRoutes.Services)).Select(s => (s.Name, s.Version)));
    }

    private static string Shorten(string body) => body.Length > 200 ? body[..200] + "..." : body;
}
