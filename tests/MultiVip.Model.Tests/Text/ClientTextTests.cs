using MultiVip.Model.Text;

namespace MultiVip.Model.Tests.Text;

public sealed class ClientTextTests
{
    [Theory]
    [InlineData("curl/8.5.0", "curl/8.5.0")]
    [InlineData("", "")]
    [InlineData("Grüße aus Köln ✓", "Grüße aus Köln ✓")]
    [InlineData("ev\u001b[31mil", @"ev\x1b[31mil")]
    [InlineData("a\r\nfake: line", @"a\r\nfake: line")]
    [InlineData("tab\there", @"tab\there")]
    [InlineData("nul\0del\u007fcsi\u009b", @"nul\x00del\x7fcsi\x9b")]
    [InlineData("abc\u202Efed", @"abc\u202efed")]
    [InlineData("isolate\u2066x\u2069", @"isolate\u2066x\u2069")]
    [InlineData("line\u2028sep", @"line\u2028sep")]
    public void Control_characters_become_visible_escapes(string raw, string escaped) =>
        Assert.Equal(escaped, ClientText.Escape(raw));

    [Fact]
    public void Escaped_text_holds_no_control_character_whatever_goes_in()
    {
        var all = new string(Enumerable.Range(0, 0x3000).Select(i => (char)i).ToArray());
        var escaped = ClientText.Escape(all);
        Assert.DoesNotContain(escaped, char.IsControl);
        Assert.DoesNotContain('\u202E', escaped);
    }

    [Fact]
    public void Clean_text_is_returned_as_is() =>
        Assert.Same("plain", ClientText.Escape("plain"));

    [Fact]
    public void Null_passes_through() => Assert.Null(ClientText.EscapeOrNull(null));
}
