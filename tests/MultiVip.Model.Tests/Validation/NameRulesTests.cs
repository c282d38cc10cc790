using MultiVip.Model.Errors;
using MultiVip.Model.Validation;

namespace MultiVip.Model.Tests.Validation;

public class NameRulesTests
{
    private const string ServiceRule = "use 1 to 63 letters, digits and hyphens, start with a letter and end with a letter or digit.";

    [Theory]
    [InlineData("a")]
    [InlineData("myService")]
    [InlineData("my-service-2")]
    [InlineData("a123456789012345678901234567890123456789012345678901234567890bc")] // 63
    public void Good_service_names_are_accepted(string name) => NameRules.ServiceName(name);

    [Theory]
    [InlineData("1service")]
    [InlineData("-service")]
    [InlineData("service-")]
    [InlineData("my_service")]
    [InlineData("my.service")]
    [InlineData("my service")]
    [InlineData("dienst-ü")]
    [InlineData("a123456789012345678901234567890123456789012345678901234567890bcd")] // 64
    public void Bad_service_names_are_rejected(string name) => AssertError.Throws(
        ErrorCode.BadRequest, $"'{name}' is not a valid cloud service name: {ServiceRule}", () => NameRules.ServiceName(name));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Missing_service_name_is_required(string? name) => AssertError.Throws(
        ErrorCode.BadRequest, "The cloud service name (ServiceName) is required.", () => NameRules.ServiceName(name));

    [Theory]
    [InlineData("Vip1")]
    [InlineData("1st")]
    [InlineData("web_tier.v2-a")]
    public void Good_resource_names_are_accepted(string name) => NameRules.ResourceName("VM", name);

    [Theory]
    [InlineData("_vm")]
    [InlineData(".vm")]
    [InlineData("-vm")]
    [InlineData("my vm")]
    [InlineData("vm/1")]
    [InlineData("vm:1")]
    public void Bad_resource_names_are_rejected(string name) => AssertError.Throws(
        ErrorCode.BadRequest,
        $"'{name}' is not a valid VM name: use 1 to 64 letters, digits, '.', '_' and '-', starting with a letter or digit.",
        () => NameRules.ResourceName("VM", name));

    [Fact]
    public void Resource_names_are_at_most_64_characters()
    {
        NameRules.ResourceName("VM", new string('v', 64));
        AssertError.Throws(ErrorCode.BadRequest, () => NameRules.ResourceName("VM", new string('v', 65)));
    }

    [Fact]
    public void Missing_resource_name_is_required() => AssertError.Throws(
        ErrorCode.BadRequest, "The endpoint name is required.", () => NameRules.ResourceName("endpoint", null));

    [Theory]
    [InlineData("10.0.0.4", "10.0.0.4")]
    [InlineData(" 127.0.0.1 ", "127.0.0.1")]
    [InlineData("0.0.0.0", "0.0.0.0")]
    [InlineData("255.255.255.255", "255.255.255.255")]
    [InlineData("2001:DB8:0:0::1", "2001:db8::1")]
    [InlineData("::1", "::1")]
    [InlineData("fe80:0000::0001", "fe80::1")]
    public void Vm_addresses_are_canonicalised(string text, string expected) => Assert.Equal(expected, NameRules.VmAddress(text));

    [Theory]
    [InlineData("10.1")]
    [InlineData("10")]
    [InlineData("167772161")]
    [InlineData("10.0.1")]
    [InlineData("0x0a.0.0.1")]
    [InlineData("010.0.0.1")] // octal to IPAddress.Parse: would silently become 8.0.0.1
    [InlineData("10.0.0.01")]
    [InlineData("10..0.1")]
    [InlineData("10.0.0.256")]
    [InlineData("10.0.0.1.")]
    [InlineData("10.0.0.0/8")]
    [InlineData("host.example")]
    [InlineData("1::2::3")]
    public void Bad_vm_addresses_are_rejected(string text) => AssertError.Throws(
        ErrorCode.BadRequest,
        $"'{text}' is not a valid IP address for a VM. Give the VM's internal address, for example 10.0.0.4 or 127.0.0.1.",
        () => NameRules.VmAddress(text));

    [Theory]
    [InlineData(null)]
    [InlineData("  ")]
    public void Missing_vm_address_is_required(string? text) => AssertError.Throws(
        ErrorCode.BadRequest, "The VM's internal address (--address / -IPAddress) is required.", () => NameRules.VmAddress(text));

    [Fact]
    public void Text_accepts_null_and_bounded_plain_text()
    {
        NameRules.Text("label", null);
        NameRules.Text("label", new string('x', 256));
        NameRules.Text("label", "ümlauts and spaces are fine", 40);
    }

    [Fact]
    public void Text_longer_than_max_is_rejected() => AssertError.Throws(
        ErrorCode.BadRequest, "The label can be at most 10 characters long (got 11).", () => NameRules.Text("label", "01234567890", 10));

    [Theory]
    [InlineData("a\nb")]
    [InlineData("a\tb")]
    [InlineData("\0")]
    public void Text_with_control_characters_is_rejected(string text) => AssertError.Throws(
        ErrorCode.BadRequest, "The label must not contain control characters (such as newlines or tabs).", () => NameRules.Text("label", text));
}
