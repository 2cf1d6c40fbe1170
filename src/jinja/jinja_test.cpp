// The Jinja2 engine piece by piece. Expected strings are what Jinja2 3.1 renders with the
// environment transformers uses (sandboxed, trim_blocks, lstrip_blocks, loop controls,
// json.dumps-based tojson).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "smol/error.hpp"
#include "jinja/template.hpp"

namespace smol::jinja {
namespace {

const char* kContext = R"({"d": {"a": 1, "b": [2, 3]}, "l": [1, 2, 3],
  "users": [{"name": "al", "admin": true, "age": 30}, {"name": "bo", "admin": false}]})";

std::string render(std::string_view source) {
  Value context = Value::from_json(nlohmann::ordered_json::parse(kContext));
  return Template(source, "test").render(context.as_dict());
}

// The message of the smol::Error that parsing or rendering throws ("" if none).
std::string error_of(std::string_view source) {
  try {
    render(source);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JinjaRender, WhitespaceControlMatchesTrimAndLstripBlocks) {
  EXPECT_EQ(render("{% if true %}\nyes\n{% endif %}\nafter"), "yes\nafter");
  EXPECT_EQ(render("a\n    {% if true %}\n    b\n    {% endif %}\nc"), "a\n    b\nc");
  EXPECT_EQ(render("  {{ 'x' }}"), "  x");
  EXPECT_EQ(render("a {% if true %}b{% endif %}"), "a b");
  EXPECT_EQ(render("a  \n  {%- if true -%}  \n  b  \n  {%- endif -%}  \n c"), "abc");
  EXPECT_EQ(render("  {%+ if true %}x{% endif +%}\ny"), "  x\ny");
  EXPECT_EQ(render("x {{- ' y ' -}} z"), "x y z");
  EXPECT_EQ(render("a\n  {# note #}\nb"), "a\nb");
  EXPECT_EQ(render("a {#- note -#} b"), "ab");
  EXPECT_EQ(render("x\n"), "x");
  EXPECT_EQ(render("x\n\n"), "x\n");
  EXPECT_EQ(render("{% raw %}{{ a }} {% if %}{% endraw %}"), "{{ a }} {% if %}");
  EXPECT_EQ(render("a\r\nb\r\n  {% if true %}\r\nc\r\n  {% endif %}\r\n"), "a\nb\nc\n");
  EXPECT_EQ(render("{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\n"), "  1\n  2\n");
  EXPECT_EQ(render("{%- for i in [1, 2] -%}\n  {{ i }}\n{%- endfor %}"), "12");
}

TEST(JinjaRender, Literals) {
  EXPECT_EQ(render("{{ 'a\\nb\\t\\'c\\' \\\"d\\\" \\\\ \\x41\\u00e9' }}"), "a\nb\t'c' \"d\" \\ Aé");
  EXPECT_EQ(render("{{ \"it's\" }} {{ 'ab' 'cd' }}"), "it's abcd");
  EXPECT_EQ(render("{{ 42 }} {{ -7 }} {{ 1_000 }} {{ 2.5 }} {{ 1e3 }}"), "42 -7 1000 2.5 1000.0");
  EXPECT_EQ(render("{{ true }} {{ True }} {{ false }} {{ none }} {{ None }}"),
            "True True False None None");
  EXPECT_EQ(render("{{ [1, 'a', none, true, 1.5] }} {{ {'k': 'v', 'n': [1]} }} {{ (1, 2) }} {{ "
                   "('x',) }} {{ [] }}"),
            "[1, 'a', None, True, 1.5] {'k': 'v', 'n': [1]} (1, 2) ('x',) []");
  EXPECT_EQ(render("{{ ['it\\'s', 'say \"hi\"', 'tab\\t'] }}"),
            "[\"it's\", 'say \"hi\"', 'tab\\t']");
}

TEST(JinjaRender, ArithmeticFollowsPython) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 10 - 3 - 2 }} {{ 7 // 2 }} {{ 7 / 2 }} {{ "
                   "-7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }}"),
            "7 9 5 3 3.5 2 -2 1024 64 4");
  EXPECT_EQ(render("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 0.0001 }} {{ 1 / "
                   "3 }} {{ 100 / 4 }} {{ -7 // 2.0 }} {{ 7 % 2.5 }} {{ 2 ** -1 }}"),
            "1.0 0.30000000000000004 1e+16 1000000000000000.0 1e-05 0.0001 0.3333333333333333 25.0 "
            "-4.0 2.0 0.5");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none ~ undefined_var ~ [1] }} {{ 'ab' + 'cd' }} {{ [1] + [2] }} "
                   "{{ 'ab' * 3 }} {{ 3 * [0] }}"),
            "a1None[1] abcd [1, 2] ababab [0, 0, 0]");
  EXPECT_EQ(render("{{ '%s has %d items' % ('list', 3) }} {{ '%s%%' % 5 }}"),
            "list has 3 items 5%");
}

TEST(JinjaRender, ComparisonsAndBooleanLogic) {
  EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 3 < 2 < 4 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ [1, 2] == "
                   "[1, 2] }} {{ 'abc' < 'abd' }}"),
            "True False True True True True");
  EXPECT_EQ(render("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' "
                   "}} {{ 'x' in undefined_var }}"),
            "True True True True False");
  EXPECT_EQ(render("{{ not true }} {{ not '' }} {{ not [] }} {{ not 0.0 }} {{ not undefined_var }} "
                   "{{ not none }}"),
            "False True True True True True");
  EXPECT_EQ(render("{{ 0 or 'b' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ none or [] }}"),
            "b b  []");
  EXPECT_EQ(render("{{ 'yes' if 2 > 1 else 'no' }} [{{ 'x' if false }}] {{ 'a' if false else 'b' "
                   "if true else 'c' }}"),
            "yes [] b");
}

TEST(JinjaRender, Tests) {
  EXPECT_EQ(render("{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 'a' is string }} "
                   "{{ 1 is number }} {{ 1 is integer }} {{ 1.5 is float }} {{ true is boolean }}"),
            "False True True True True True True True");
  EXPECT_EQ(
      render("{{ {} is mapping }} {{ [] is mapping }} {{ [] is sequence }} {{ 'a' is iterable }} "
             "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(2) }}"),
      "True False True True True True True False");
  EXPECT_EQ(render("{{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 1 is eq 1 }} {{ 1 is equalto 2 }} "
                   "{{ 2 is gt 1 }} {{ 2 is in [1, 2] }} {{ none is sameas none }} {{ true is true "
                   "}} {{ 0 is false }}"),
            "True True True False True True True True False");
  EXPECT_EQ(render("{{ 1 is not none }} {{ range is callable }} {{ 'x' is not string }}"),
            "True True False");
}

TEST(JinjaRender, Filters) {
  EXPECT_EQ(render("{{ 'Hello World'|upper }} {{ 'Hello World'|lower }} {{ 'hello "
                   "WORLD'|capitalize }} {{ 'hello wORLD it\\'s'|title }}"),
            "HELLO WORLD hello world Hello world Hello World It's");
  EXPECT_EQ(render("{{ 'x-ray (a) [b] {c} <d> 3rd  two'|title }} {{ 'x-ray it\\'s'.title() }}"),
            "X-Ray (A) [B] {C} <D> 3rd  Two X-Ray It'S");
  EXPECT_EQ(render("[{{ '  t \\n'|trim }}] [{{ 'xxhixx'|trim('x') }}] {{ 'hello'|replace('l', 'L') "
                   "}} {{ 'hello'|replace('l', 'L', 1) }}"),
            "[t] [hi] heLLo heLlo");
  EXPECT_EQ(render("{{ 'héllo'|length }} {{ [1, 2]|length }} {{ {'a': 1}|count }} {{ "
                   "undefined_var|length }}"),
            "5 2 1 0");
  EXPECT_EQ(render("{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} {{ 'abc'|list }} "
                   "{{ {'b': 1, 'a': 2}|list }} {{ {'b': 1}|items|list }}"),
            "1 3 a ['a', 'b', 'c'] ['b', 'a'] [('b', 1)]");
  EXPECT_EQ(render("{{ [1, 2, 3]|join(', ') }} {{ ['a', 'b']|join }} {{ [{'n': 'x'}, {'n': "
                   "'y'}]|join('/', attribute='n') }}"),
            "1, 2, 3 ab x/y");
  EXPECT_EQ(render("{{ undefined_var|default('dflt') }} {{ ''|default('empty', true) }} {{ "
                   "''|default('unused') }} {{ none|d('n') }}"),
            "dflt empty  None");
  EXPECT_EQ(
      render("{{ 5|string ~ 'x' }} {{ '42'|int + 1 }} {{ ' 7 '|int }} {{ '3.9'|int }} {{ 'abc'|int "
             "}} {{ 'abc'|int(-1) }} {{ 3.9|int }} {{ '4.5'|float }} {{ 2|float }}"),
      "5x 43 7 3 0 -1 3 4.5 2.0");
  EXPECT_EQ(render("{{ 'abc'|reverse }} {{ [1, 2, 3]|reverse|list }} {{ [3, 1, 2]|sort }} {{ ['b', "
                   "'A', 'a']|sort }} {{ [3, 1, 2]|sort(reverse=true) }}"),
            "cba [3, 2, 1] [1, 2, 3] ['A', 'a', 'b'] [3, 2, 1]");
  EXPECT_EQ(render("{{ [1, 2, 1, 3]|unique|list }} {{ [1, 2, 3]|sum }} {{ [1, 5, 2]|max }} {{ [4, "
                   "2, 8]|min }} {{ -3|abs }} {{ 2.5|round }} {{ 3.14159|round(2) }}"),
            "[1, 2, 3] 6 5 2 3 2.0 3.14");
  EXPECT_EQ(render("{{ [1, 2, 3, 4]|select('even')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} "
                   "{{ [0, 1, '', 'a']|select|list }} {{ [1, 2]|map('string')|list }}"),
            "[2, 4] [2, 4] [1, 'a'] ['1', '2']");
  EXPECT_EQ(render("{{ users|selectattr('admin')|map(attribute='name')|join(',') }} {{ "
                   "users|rejectattr('admin')|map(attribute='name')|list }} {{ "
                   "users|selectattr('name', 'equalto', 'bo')|list|length }}"),
            "al ['bo'] 1");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2}|dictsort }} {{ '<a & b>'|e }} {{ 'x'|safe }} {{ "
                   "users|map(attribute='age', default=0)|list }}"),
            "[('a', 2), ('b', 1)] &lt;a &amp; b&gt; x [30, 0]");
  EXPECT_EQ(render("{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ "
                   "'a\\n\\nb'|indent('> ', blank=true) }}"),
            "a\n  b\n\n  c|  a\n  b|a\n> \n> b");
}

TEST(JinjaRender, TojsonMatchesPythonJsonDumps) {
  EXPECT_EQ(render("{{ {'b': 1, 'a': [1, 2.5, none, true, 'x']}|tojson }}"),
            "{\"b\": 1, \"a\": [1, 2.5, null, true, \"x\"]}");
  EXPECT_EQ(render("{{ 'é\"\\\\\\n\\t\\x01/'|tojson }} {{ 'é'|tojson(ensure_ascii=true) }}"),
            "\"é\\\"\\\\\\n\\t\\u0001/\" \"\\u00e9\"");
  EXPECT_EQ(render("{{ {'k': [1, {'j': []}], 'e': {}}|tojson(indent=2) }}"),
            "{\n  \"k\": [\n    1,\n    {\n      \"j\": []\n    }\n  ],\n  \"e\": {}\n}");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ [1, {'a': "
                   "2}]|tojson(separators=(',', ':')) }} {{ 1.0|tojson }} {{ 1e20|tojson }}"),
            "{\"a\": 2, \"b\": 1} [1,{\"a\":2}] 1.0 1e+20");
}

TEST(JinjaRender, StringAndDictMethods) {
  EXPECT_EQ(render("[{{ '  a b  '.strip() }}] [{{ 'xxaxx'.lstrip('x') }}] [{{ 'xxaxx'.rstrip('x') "
                   "}}] [{{ '\\n\\nhi\\n'.strip('\\n') }}]"),
            "[a b] [axx] [xxa] [hi]");
  EXPECT_EQ(
      render(
          "{{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('x', 'lo')) }} {{ 'Hello'.upper() "
          "}} {{ 'Hello'.lower() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }}"),
      "True True HELLO hello Hello World Hello");
  EXPECT_EQ(render("{{ 'a,b,,c'.split(',') }} {{ '  a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} "
                   "{{ 'a,b,c'.rsplit(',', 1) }} {{ 'a<think>b</think>c'.split('</think>')[-1] }}"),
            "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b,c'] ['a,b', 'c'] c");
  EXPECT_EQ(render("{{ 'hello'.replace('l', 'L') }} {{ 'hello'.find('l') }} {{ 'hello'.count('l') "
                   "}} {{ '-'.join(['a', 'b']) }} {{ '12'.isdigit() }} {{ 'a\\nb'.splitlines() }}"),
            "heLLo 2 2 a-b True ['a', 'b']");
  EXPECT_EQ(render("{{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 5) }} {{ d.keys()|list }} {{ "
                   "d.values()|list }} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"),
            "1 None 5 ['a', 'b'] [1, [2, 3]] a=1;b=[2, 3];");
}

TEST(JinjaRender, AttributesIndexesAndSlices) {
  EXPECT_EQ(render("{{ d.a }} {{ d['b'] }} {{ l[0] }} {{ l[-1] }} {{ l.1 }} [{{ l[10] }}] [{{ d.zz "
                   "}}] [{{ d['zz'] }}] {{ d.zz is defined }}"),
            "1 [2, 3] 1 3 2 [] [] [] False");
  EXPECT_EQ(render("{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ 'héllo'[1] }} {{ "
                   "'héllo'[::-1] }} {{ 'hello'[-3:] }} {{ l[5:] }}"),
            "[2, 3] [1, 2] [3, 2, 1] [1, 3] é olléh llo []");
}

TEST(JinjaRender, ForLoops) {
  EXPECT_EQ(
      render("{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ "
             "loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}"),
      "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|");
  EXPECT_EQ(render("{% for x in [1, 2, 3] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }} {{ "
                   "loop.cycle('odd', 'even') }};{% endfor %}"),
            "<1>2 odd;1<2>3 even;2<3> odd;");
  EXPECT_EQ(render("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %} {% for k in {'x': 1, "
                   "'y': 2} %}{{ k }}{% endfor %}"),
            "37 xy");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %} {% for x in undefined_var %}x{% "
                   "else %}undef{% endfor %}"),
            "empty undef");
  EXPECT_EQ(
      render("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.length }} {% endfor %}"),
      "2/2 4/2 ");
  EXPECT_EQ(render("{% for x in [1, 2, 3, 4, 5] %}{% if x == 2 %}{% continue %}{% endif %}{% if x "
                   "== 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "13");
  EXPECT_EQ(render("{% for i in range(3) %}{{ i }}{% endfor %} {{ range(1, 10, 3)|list }} {{ "
                   "range(3, 0, -1)|list }}"),
            "012 [1, 4, 7] [3, 2, 1]");
  EXPECT_EQ(render("{% for row in [[1, 2], [3]] %}{% for c in row %}{{ loop.index }}{% endfor "
                   "%}/{{ loop.index }} {% endfor %}"),
            "12/1 1/2 ");
}

TEST(JinjaRender, SetNamespaceAndMacros) {
  EXPECT_EQ(
      render("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}"),
      "231");
  EXPECT_EQ(render("{% set ns = namespace(total=0, found=false) %}{% for i in [1, 2, 3] %}{% set "
                   "ns.total = ns.total + i %}{% if i == 2 %}{% set ns.found = true %}{% endif "
                   "%}{% endfor %}{{ ns.total }} {{ ns.found }}"),
            "6 True");
  EXPECT_EQ(render("{% set c = 'x' %}{% if true %}{% set c = 'y' %}{% endif %}{{ c }} {% set a, b "
                   "= [1, 2] %}{{ a }}{{ b }} {% set t %}inner {{ c }}{% endset %}[{{ t }}]"),
            "y 12 [inner y]");
  EXPECT_EQ(
      render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ "
             "greet('a') }} {{ greet('b', '?') }} {{ greet(name='c', punct='.') }} {{ greet() }}"),
      "Hi a! Hi b? Hi c. Hi !");
  EXPECT_EQ(render("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif "
                   "%}{% endmacro %}{{ fact(5) }}"),
            "120");
  EXPECT_EQ(render("{% set d2 = dict(a=1, b='x') %}{{ d2 }} {{ d2.a }}"), "{'a': 1, 'b': 'x'} 1");
}

TEST(JinjaRender, UndefinedRendersEmptyAndIsFalsy) {
  EXPECT_EQ(
      render("[{{ nothing }}] [{{ nothing|trim }}] {{ nothing|length }} {{ nothing is defined }} "
             "[{% for x in nothing %}x{% endfor %}] {{ not nothing }} {{ nothing == nothing }}"),
      "[] [] 0 False [] True True");
}
TEST(JinjaErrors, SyntaxErrorsNameLineColumnAndToken) {
  EXPECT_EQ(error_of("line1\n{% if true %}\n{{ 'a' }"), "test line 3, column 8: unexpected '}'");
  EXPECT_EQ(error_of("{% frobnicate %}"), "test line 1, column 4: unknown tag 'frobnicate'");
  EXPECT_EQ(error_of("{{ x|nope }}"), "test line 1, column 6: no filter named 'nope'");
  EXPECT_EQ(error_of("{{ x is nope }}"), "test line 1, column 9: no test named 'nope'");
  EXPECT_EQ(error_of("{{ }}"), "test line 1, column 4: expected an expression, got '}}'");
  EXPECT_EQ(error_of("{% if true %}x{% endfor %}"),
            "test line 1, column 18: unexpected 'endfor' tag, expected 'elif', 'else' or 'endif'");
  EXPECT_EQ(error_of("{% for x in l %}\nbody"),
            "test line 2, column 5: unexpected end of template, expected 'endfor' or 'else' to "
            "close the 'for' tag on line 1");
  EXPECT_EQ(error_of("{% break %}"), "test line 1, column 4: 'break' outside of a for loop");
  EXPECT_EQ(error_of("a {# never closed"),
            "test line 1, column 3: missing end of comment tag '#}'");
  EXPECT_EQ(error_of("{{ 'open }}"), "test line 1, column 4: unterminated string literal");
  EXPECT_EQ(error_of("{{ a = 1 }}"),
            "test line 1, column 6: expected '}}' to end the expression, got '='");
  EXPECT_EQ(error_of("{% include 'x.j2' %}"),
            "test line 1, column 4: the 'include' tag is not supported in chat templates");
  EXPECT_EQ(error_of("{% set true = 1 %}"), "test line 1, column 8: cannot assign to 'true'");
}

TEST(JinjaErrors, DeepNestingIsRejectedNotAStackOverflow) {
  std::string parens = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_NE(error_of(parens).find("nests deeper than"), std::string::npos);
  std::string nots = "{{ ";
  for (int i = 0; i < 5000; ++i) nots += "not ";
  EXPECT_NE(error_of(nots + "1 }}").find("nests deeper than"), std::string::npos);
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
  EXPECT_NE(error_of(ifs).find("nests deeper than"), std::string::npos);
  EXPECT_EQ(render("{{ ((((((((((1)))))))))) + [[[[[2]]]]][0][0][0][0][0] }}"), "3");
}

TEST(JinjaErrors, RuntimeErrorsNameTheFailingExpression) {
  EXPECT_EQ(error_of("\n{{ nothing.attr }}"), "test line 2, column 11: 'nothing' is undefined");
  EXPECT_EQ(error_of("{{ nothing + 1 }}"), "test line 1, column 12: 'nothing' is undefined");
  EXPECT_EQ(error_of("{{ 'a' + 1 }}"),
            "test line 1, column 8: unsupported operand type(s) for +: 'str' and 'int'");
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), "test line 1, column 6: integer division by zero");
  EXPECT_EQ(error_of("{{ l[0]() }}"), "test line 1, column 8: 'int' object is not callable");
  EXPECT_EQ(error_of("{% set d.x = 1 %}"),
            "test line 1, column 1: cannot assign attribute on non-namespace object 'd'");
  EXPECT_EQ(error_of("{% for a, b in [[1, 2, 3]] %}{% endfor %}"),
            "test line 1, column 1: too many values to unpack (expected 2)");
  EXPECT_EQ(error_of("{{ l.append(4) }}"),
            "test line 1, column 12: access to attribute 'append' of 'list' object is unsafe "
            "(templates cannot modify their inputs)");
  EXPECT_EQ(error_of("{{ nothing|tojson }}"),
            "test line 1, column 12: Object of type Undefined is not JSON serializable");
  EXPECT_EQ(error_of("{% macro m() %}\n{{ 1 < 'a' }}{% endmacro %}{{ m() }}"),
            "test line 2, column 6: '<' not supported between instances of 'int' and 'str'");
}

// Found by fuzz/jinja_fuzz (the first is its crashing input): hostile templates are errors,
// not std::bad_variant_access, undefined behaviour or all of memory.
TEST(JinjaErrors, HostileTemplatesAreErrors) {
  auto fails = [](const char* source) { return !error_of(source).empty(); };
  EXPECT_TRUE(fails("}} {{ 'hello'|replace('l', '1' ,L|last) }}"));
  EXPECT_TRUE(fails("{{ 'hello'|replace('l', '1', 'x') }}"));
  EXPECT_TRUE(fails("{{ (-9223372036854775807 - 1) // -1 }}"));
  EXPECT_EQ(render("{{ (-9223372036854775807 - 1) % -1 }}"), "0");
  EXPECT_TRUE(fails("{{ 1e300|int }}"));
  EXPECT_TRUE(fails("{{ '%d' % 1e300 }}"));
  EXPECT_TRUE(fails("{{ 'ab' * 100000 * 100000 }}"));
  EXPECT_TRUE(fails("{% set x = [1] * 100000000 %}"));
  EXPECT_TRUE(fails("{{ 'x'|indent(100000000000) }}"));
  EXPECT_TRUE(fails("{{ 1|tojson(indent=10000000000) }}"));
  EXPECT_EQ(render("{{ 'ab' * 3 }}{{ ([1] * 2)|length }}"), "ababab2");
}

TEST(JinjaErrors, RaiseExceptionKeepsTheTemplatesMessage) {
  EXPECT_EQ(error_of("\n\n{{ raise_exception('Only user and assistant roles are supported!') }}"),
            "Only user and assistant roles are supported!");
  EXPECT_EQ(
      error_of("{% macro check() %}{{ raise_exception('deep ' ~ 1) }}{% endmacro %}{{ check() }}"),
      "deep 1");
}

TEST(JinjaTemplate, RendersRepeatedlyWithoutLeakingState) {
  Template t(
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
      "{% endfor %}{{ ns.n }}{{ extra }}",
      "test");
  DictValue a;
  a.set("messages", Value::list({Value(1), Value(2)}));
  a.set("extra", Value("!"));
  DictValue b;
  b.set("messages", Value::list({Value(1)}));
  EXPECT_EQ(t.render(a), "2!");
  EXPECT_EQ(t.render(b), "1");
  EXPECT_EQ(t.render(a), "2!");
}

TEST(JinjaTemplate, ContextShadowsGlobalsAndStrftimeNowExists) {
  Template t("{{ range }}{{ strftime_now('%Y')|length }}", "test");
  DictValue vars;
  vars.set("range", Value("mine"));
  EXPECT_EQ(t.render(vars), "mine4");
}

}  // namespace
}  // namespace smol::jinja

namespace smol::jinja {
namespace {

// fuzz/crashes/jinja_fuzz (CI, 2026-12-07): a '.' index too large for an integer made stoll
// throw std::out_of_range out of the parser.
TEST(JinjaFuzzRegressions, HugeDotIndexIsASyntaxError) {
  EXPECT_NE(error_of("{{ l.99999999999999999999999 }}").find("too large"), std::string::npos);
  EXPECT_EQ(render("{{ l.1 }}"), "2");
  EXPECT_EQ(render("{{ users | map(attribute='99999999999999999999999') | list | length }}"), "2");
}

}  // namespace
}  // namespace smol::jinja
