using System.Text.Json;
using MultiVip.Model.Errors;
using MultiVip.Model.Operations;
using MultiVip.Model.Services;
using MultiVip.Model.Tests;

namespace MultiVip.Contracts.Tests;

public class ApiJsonTests
{
    private static string Json<T>(T value) => JsonSerializer.Serialize(value, ApiJson.Options);

    [Fact]
    public void Properties_are_camelCase()
    {
        var json = Json(new VirtualIp { Name = "Vip1", Address = "127.100.0.1", IsDnsProgrammed = true });
        Assert.Contains("\"name\":\"Vip1\"", json, StringComparison.Ordinal);
        Assert.Contains("\"isDnsProgrammed\":true", json, StringComparison.Ordinal);
        Assert.Contains("\"reservedIpName\":null", json, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(LoadBalancerDistribution.None, "\"none\"")]
    [InlineData(LoadBalancerDistribution.SourceIP, "\"sourceIP\"")]
    [InlineData(LoadBalancerDistribution.SourceIPProtocol, "\"sourceIPProtocol\"")]
    public void Distribution_is_a_camelCase_string(LoadBalancerDistribution d, string expected)
    {
        Assert.Equal(expected, Json(d));
        Assert.Equal(d, JsonSerializer.Deserialize<LoadBalancerDistribution>(expected, ApiJson.Options));
    }

    [Fact]
    public void Other_enums_are_camelCase_strings()
    {
        Assert.Equal("\"tcp\"", Json(TransportProtocol.Tcp));
        Assert.Equal("\"http\"", Json(ProbeProtocol.Http));
        Assert.Equal("\"permit\"", Json(AclAction.Permit));
        Assert.Equal("\"v2\"", Json(ProxyProtocolVersion.V2));
        Assert.Equal("\"conflictError\"", Json(ErrorCode.ConflictError));
    }

    [Fact]
    public void Operation_status_keeps_Azure_spelling()
    {
        Assert.Equal("\"InProgress\"", Json(OperationStatus.InProgress));
        Assert.Equal("\"Succeeded\"", Json(OperationStatus.Succeeded));
        Assert.Equal("\"Failed\"", Json(OperationStatus.Failed));
        Assert.Equal("\"Unhealthy\"", Json(MultiVip.Model.Services.HealthState.Unhealthy));
    }

    [Fact]
    public void Endpoint_serialises_enums_as_strings_and_reads_back()
    {
        var endpoint = Build.Endpoint("web", 8080, 80, set: "lb") with
        {
            Distribution = LoadBalancerDistribution.SourceIP,
            Probe = new LoadBalancerProbe { Protocol = ProbeProtocol.Http, Port = 80, Path = "/" },
            Acl = [new AclRule { Order = 1, Action = AclAction.Deny, RemoteSubnet = "10.0.0.0/8" }],
        };
        var json = Json(endpoint);
        Assert.Contains("\"distribution\":\"sourceIP\"", json, StringComparison.Ordinal);
        Assert.Contains("\"protocol\":\"tcp\"", json, StringComparison.Ordinal);
        Assert.Contains("\"action\":\"deny\"", json, StringComparison.Ordinal);
        var back = JsonSerializer.Deserialize<InputEndpoint>(json, ApiJson.Options)!;
        Assert.Equal(endpoint with { Acl = [] }, back with { Acl = [] });
        Assert.Equal(endpoint.Acl, back.Acl);
    }

    [Fact]
    public void Unknown_members_are_rejected()
    {
        Assert.Equal("x", JsonSerializer.Deserialize<AddVirtualIpRequest>("{\"name\":\"x\"}", ApiJson.Options)!.Name);
        var ex = Assert.Throws<JsonException>(() =>
            JsonSerializer.Deserialize<AddVirtualIpRequest>("{\"name\":\"x\",\"nmae\":\"y\"}", ApiJson.Options));
        Assert.Contains("nmae", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Integer_enum_values_are_rejected() => Assert.Throws<JsonException>(() =>
        JsonSerializer.Deserialize<LoadBalancerDistribution>("1", ApiJson.Options));

    [Fact]
    public void Configure_applies_the_same_settings_to_foreign_options()
    {
        var options = new JsonSerializerOptions();
        ApiJson.Configure(options);
        Assert.Equal("{\"name\":\"Vip1\"}", JsonSerializer.Serialize(new AddVirtualIpRequest { Name = "Vip1" }, options));
        Assert.Equal("\"sourceIPProtocol\"", JsonSerializer.Serialize(LoadBalancerDistribution.SourceIPProtocol, options));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<AddVirtualIpRequest>("{\"extra\":1}", options));
    }

    [Fact]
    public void Error_body_is_code_and_message() => Assert.Equal(
        "{\"code\":\"BadRequest\",\"message\":\"m\"}", Json(new ErrorBody("BadRequest", "m")));

    [Fact]
    public void Error_body_of_one_problem_has_no_list() => Assert.Equal(
        "{\"code\":\"ConflictError\",\"message\":\"m\"}", Json(ErrorBody.From(MultiVipException.Conflict("m"))));

    [Fact]
    public void Error_body_of_several_problems_lists_each_with_its_code()
    {
        var ex = new MultiVipException([new ErrorDetail(ErrorCode.BadRequest, "a."), new ErrorDetail(ErrorCode.ConflictError, "b")]);

        var json = Json(ErrorBody.From(ex));

        Assert.Equal(
            "{\"code\":\"BadRequest\",\"message\":\"The change has 2 problems: (1) a. (2) b.\",\"errors\":[{\"code\":\"BadRequest\",\"message\":\"a.\"},{\"code\":\"ConflictError\",\"message\":\"b\"}]}",
            json);
        Assert.Equal(2, JsonSerializer.Deserialize<ErrorBody>(json, ApiJson.Options)!.Errors!.Count);
    }
}
