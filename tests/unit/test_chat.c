/* test_chat.c - conversations and chat templates (src/chat).
 *
 * The byte-for-byte parity with Hugging Face's renderers is
 * tests/integration/chat.sh; here: the expected text of each family written
 * out by hand for one conversation, detection and its refusals, the
 * default system turn of chatml templates, Python's strip() set, the JSON
 * form and the prompt rules. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"

static chat_conv conv_of(const char *json) {
    chat_conv c = {0};
    pp_err err = {0};
    assert_int_equal(chat_conv_from_json(json, "test", &c, &err), PP_OK);
    return c;
}

static void expect_render(chat_family f, const char *tpl, const char *json, int gen, const char *want) {
    chat_template t;
    pp_err err = {0};
    assert_int_equal(chat_template_init(&t, f, tpl, &err), PP_OK);
    chat_conv c = conv_of(json);
    char *out = NULL;
    assert_int_equal(chat_render(&t, &c, gen, &out, &err), PP_OK);
    assert_string_equal(out, want);
    free(out);
    chat_conv_free(&c);
    chat_template_free(&t);
}

static const char *sys_user = "[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":\" U \"}]";

static void test_families_by_hand(void **state) {
    (void)state;
    expect_render(CHAT_LLAMA2, NULL, sys_user, 1, "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\n U [/INST]");
    expect_render(CHAT_LLAMA3, NULL, sys_user, 1,
                  "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    expect_render(CHAT_CHATML, NULL, sys_user, 1,
                  "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n U <|im_end|>\n<|im_start|>assistant\n");
    expect_render(CHAT_ZEPHYR, NULL, sys_user, 1, "<|system|>\nS</s>\n<|user|>\n U </s>\n<|assistant|>\n");
    expect_render(CHAT_ZEPHYR, NULL, sys_user, 0, "<|system|>\nS</s>\n<|user|>\n U </s>\n");
    expect_render(CHAT_MISTRAL, NULL,
                  "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"},"
                  "{\"role\":\"user\",\"content\":\"c\"}]",
                  1, "<s>[INST] a [/INST]b</s> [INST] c [/INST]");
    expect_render(CHAT_LLAMA2, NULL,
                  "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\" b \"},"
                  "{\"role\":\"user\",\"content\":\"c\"}]",
                  0, "<s>[INST] a [/INST] b </s><s>[INST] c [/INST]");
}

/* Python's str.strip(): U+3000 and U+00A0 go, U+200B (not a space) stays. */
static void test_strip_is_pythons(void **state) {
    (void)state;
    expect_render(CHAT_LLAMA3, NULL, "[{\"role\":\"user\",\"content\":\"\\u3000\\u00a0\\u001f x\\u200b \\u0085\"}]", 0,
                  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx\xe2\x80\x8b<|eot_id|>");
}

static void test_refusals(void **state) {
    (void)state;
    chat_template t;
    pp_err err = {0};
    char *out = NULL;
    assert_int_equal(chat_template_init(&t, CHAT_MISTRAL, NULL, &err), PP_OK);
    chat_conv c = conv_of(sys_user);
    assert_int_equal(chat_render(&t, &c, 1, &out, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "no system role"));
    chat_conv_free(&c);
    t.family = CHAT_LLAMA2;
    c = conv_of("[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]");
    assert_int_equal(chat_render(&t, &c, 1, &out, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "must alternate"));
    assert_null(out);
    chat_conv_free(&c);
}

static void expect_family(const char *text, chat_family want) {
    chat_family f = CHAT_N_FAMILIES;
    pp_err err = {0};
    assert_int_equal(chat_detect_family(text, "tokenizer_config.json", &f, &err), PP_OK);
    assert_int_equal(f, want);
}

static void expect_refused(const char *text, const char *why) {
    chat_family f;
    pp_err err = {0};
    assert_int_equal(chat_detect_family(text, "tokenizer_config.json", &f, &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "tokenizer_config.json: chat template is not one of llama2, llama3, chatml, mistral, "
                                    "zephyr; choose one with --chat-template"));
    assert_non_null(strstr(err.msg, why));
}

static void test_detect(void **state) {
    (void)state;
    expect_family("{{ '<|start_header_id|>' + m + '<|end_header_id|>' }}{{ '<|eot_id|>' }}", CHAT_LLAMA3);
    expect_family("{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>'}}", CHAT_CHATML);
    expect_family("{{ '<|user|>\\n' + message['content'] + eos_token }}{{ '<|assistant|>' }}", CHAT_ZEPHYR);
    expect_family("{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% set c = '<<SYS>>\\n' %}", CHAT_LLAMA2);
    expect_family("{{ bos_token }}{{ '[INST] ' + message['content'] + ' [/INST]' }}", CHAT_MISTRAL);
    expect_refused("{{ '<|start_header_id|>' }}Cutting Knowledge Date: {{ '<|eot_id|>' }}", "Llama 3.1");
    expect_refused("{{ ' [INST] ' + message['content'] + ' [/INST]' }}", "Mistral [INST] variant");
    expect_refused("{{ '[AVAILABLE_TOOLS]' }}{{ '[INST]' + c + '[/INST]' }}", "Mistral v3/v7");
    expect_refused("<start_of_turn>user\n{{ message['content'] }}<end_of_turn>", "no known family");
    expect_refused("", "there is no chat_template");
    expect_refused(NULL, "there is no chat_template");
    chat_family f;
    pp_err err = {0};
    assert_int_equal(chat_family_parse("zephyr", &f, &err), PP_OK);
    assert_int_equal(f, CHAT_ZEPHYR);
    assert_int_equal(chat_family_parse("gemma", &f, &err), PP_EINPUT);
    assert_string_equal(err.msg, "--chat-template gemma: not one of llama2, llama3, chatml, mistral, zephyr");
}

/* SmolLM2 writes its own system turn; Qwen3 only continues the given one. */
static void test_default_system(void **state) {
    (void)state;
    const char *smol = "{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are "
                       "SmolLM, \\'quoted\\'<|im_end|>\n' }}{% endif %}";
    const char *smol_escaped = "{{ '<|im_start|>system\\nDefault here<|im_end|>\\n' }}";
    const char *qwen = "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}";
    chat_template t;
    pp_err err = {0};
    assert_int_equal(chat_template_init(&t, CHAT_CHATML, smol, &err), PP_OK);
    assert_string_equal(t.default_system, "You are SmolLM, 'quoted'");
    chat_template_free(&t);
    assert_int_equal(chat_template_init(&t, CHAT_CHATML, smol_escaped, &err), PP_OK);
    assert_string_equal(t.default_system, "Default here");
    chat_template_free(&t);
    assert_int_equal(chat_template_init(&t, CHAT_CHATML, qwen, &err), PP_OK);
    assert_null(t.default_system);
    chat_template_free(&t);
    expect_render(CHAT_CHATML, smol_escaped, "[{\"role\":\"user\",\"content\":\"hi\"}]", 1,
                  "<|im_start|>system\nDefault here<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    expect_render(CHAT_CHATML, smol_escaped, sys_user, 0, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n U <|im_end|>\n");
}

static void test_json_and_prompt_rules(void **state) {
    (void)state;
    const char *in = "[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"é \\\"q\\\" 😀\"}]";
    chat_conv c = conv_of(in);
    char *json = NULL;
    pp_err err = {0};
    assert_int_equal(chat_conv_to_json(&c, &json, &err), PP_OK);
    assert_string_equal(json, in);
    assert_int_equal(chat_conv_check_prompt(&c, "f:1", &err), PP_OK);
    assert_string_equal(chat_conv_last_user(&c), "é \"q\" 😀");
    free(json);
    chat_conv_free(&c);

    c = conv_of("[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\"}]");
    assert_int_equal(chat_conv_check_prompt(&c, "f:2", &err), PP_EINPUT);
    assert_string_equal(err.msg, "f:2: the conversation's last turn is the assistant's; a prompt ends with the user's turn (the "
                                 "reply is generated)");
    chat_conv_free(&c);
    c = conv_of("[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"system\",\"content\":\"s\"},"
                "{\"role\":\"user\",\"content\":\"q\"}]");
    assert_int_equal(chat_conv_check_prompt(&c, "f:3", &err), PP_EINPUT);
    assert_non_null(strstr(err.msg, "turn 1 is a system turn"));
    chat_conv_free(&c);
    c = conv_of("[]");
    assert_int_equal(chat_conv_check_prompt(&c, "f:4", &err), PP_EINPUT);
    chat_conv_free(&c);

    const char *bad[][2] = {
        {"{\"role\":\"user\"}", "not a JSON array"},
        {"[{\"role\":\"tool\",\"content\":\"x\"}]", "role 'tool', not one of system, user, assistant"},
        {"[{\"role\":\"user\",\"content\":3}]", "no string 'content'"},
        {"[{\"role\":\"user\",\"content\":\"x\",\"name\":\"bob\"}]", "key 'name'"},
        {"[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]", "NUL"},
        {"[\"hi\"]", "not an object"},
        {"[{\"role\":\"user\",", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chat_conv d = {0};
        assert_int_equal(chat_conv_from_json(bad[i][0], "f:9", &d, &err), PP_EINPUT);
        assert_non_null(strstr(err.msg, bad[i][1]));
        assert_int_equal(d.n, 0);
    }
}

static void test_bos_and_end_of_turn(void **state) {
    (void)state;
    chat_template t;
    pp_err err = {0};
    assert_int_equal(chat_template_init(&t, CHAT_LLAMA3, NULL, &err), PP_OK);
    assert_string_equal(chat_end_of_turn(&t), "<|eot_id|>");
    assert_int_equal(chat_leading_bos(&t, "<|begin_of_text|><|start_header_id|>"), strlen("<|begin_of_text|>"));
    assert_int_equal(chat_leading_bos(&t, "<|start_header_id|>"), 0);
    assert_int_equal(chat_template_init(&t, CHAT_CHATML, NULL, &err), PP_OK);
    assert_string_equal(chat_end_of_turn(&t), "<|im_end|>");
    assert_int_equal(chat_leading_bos(&t, "<|im_start|>"), 0);
    assert_int_equal(chat_template_init(&t, CHAT_ZEPHYR, NULL, &err), PP_OK);
    assert_string_equal(chat_end_of_turn(&t), "</s>");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families_by_hand),
        cmocka_unit_test(test_strip_is_pythons),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_default_system),
        cmocka_unit_test(test_json_and_prompt_rules),
        cmocka_unit_test(test_bos_and_end_of_turn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
