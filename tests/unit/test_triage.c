/* cpm_ttext, cpm_triage: features, deterministic training, bad input, and
 * a loader that refuses corrupted, oversized and non-integer model files
 * with errors that name the field. */
#include "cpm_triage.h"
#include "cpm_triage_corpus.h"
#include "cpm_triage_eval.h"
#include "cpm_triage_train.h"
#include "cpm_ttext.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static bool has_feature(const cpm_ttext_t *t, const char *f)
{
    for (size_t i = 0; i < cpm_ttext_count(t); i++)
        if (!strcmp(cpm_ttext_feature(t, i), f))
            return true;
    return false;
}

static void test_features(void **state)
{
    (void)state;
    cpm_ttext_t *t = cpm_ttext_new();
    assert_non_null(t);
    cpm_error_t err = {0};
    /* upper case, decomposed (NFD) "ộ", digits, punctuation and an emoji */
    assert_int_equal(
        cpm_ttext_add(t, "description", "PHỞ Bò ngo\xcc\xa3\xcc\x82 độc 0912345678!! 😡", &err), 0);
    assert_int_equal(cpm_ttext_tokens(t), 4); /* the phone number is dropped */
    const char *want[] = {"pho", "phở", "bo",     "bò",     "ngo",     "ngộ",
                          "doc", "độc", "pho bo", "phở bò", "ngo doc", "ngộ độc"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        assert_true(has_feature(t, want[i]));
    assert_false(has_feature(t, "0912345678"));
    /* A text typed without accents gives only folded features, which the
     * accented text also has. */
    cpm_ttext_clear(t);
    assert_int_equal(cpm_ttext_add(t, "description", "ngo doc", &err), 0);
    assert_int_equal(cpm_ttext_count(t), 3);
    assert_true(has_feature(t, "ngo doc"));
    /* đ folds to d */
    cpm_ttext_clear(t);
    assert_int_equal(cpm_ttext_add(t, "business", "Đường", &err), 0);
    assert_true(has_feature(t, "duong"));
    assert_true(has_feature(t, "đường"));
    cpm_ttext_destroy(&t);
    cpm_ttext_destroy(&t); /* twice is safe */
}

static void test_features_bad_input(void **state)
{
    (void)state;
    cpm_ttext_t *t = cpm_ttext_new();
    cpm_error_t err = {0};
    assert_int_equal(cpm_ttext_add(t, "product", "abc\xff", &err), CPM_E_INVALID);
    assert_string_equal(err.field, "product");
    assert_int_equal(cpm_ttext_count(t), 0); /* nothing added on error */
    assert_int_equal(cpm_ttext_add(t, "description", "\xed\xa0\x80", &err), CPM_E_INVALID);
    assert_int_equal(cpm_ttext_add(t, "description", NULL, &err), 0);
    assert_int_equal(cpm_ttext_add(t, "description", "", &err), 0);
    assert_int_equal(cpm_ttext_count(t), 0);
    /* 1 MiB: only the first CPM_TTEXT_USE_MAX bytes are used */
    size_t n = 1u << 20;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = i % 4 == 3 ? ' ' : 'a';
    big[n] = 0;
    assert_int_equal(cpm_ttext_add(t, "description", big, &err), 0);
    assert_true(cpm_ttext_tokens(t) <= CPM_TTEXT_USE_MAX / 4 + 1);
    /* a cut never splits a character: 3-byte characters over the bound */
    for (size_t i = 0; i + 3 <= n; i += 3)
        memcpy(big + i, "\xe1\xbb\x99", 3); /* ộ */
    big[n - n % 3] = 0;
    cpm_ttext_clear(t);
    assert_int_equal(cpm_ttext_add(t, "description", big, &err), 0);
    assert_int_equal(cpm_ttext_tokens(t), 0); /* one token, far over the token bound */
    free(big);
    cpm_ttext_destroy(&t);
}

/* A small corpus in a temporary folder: three categories. */
static const char *const FOOD[] = {
    "Tôi bị ngộ độc sau khi ăn phở ở quán", "Đồ ăn ôi thiu, có mùi lạ",
    "thit lon bi moc, an xong dau bung",    "Quán bán thực phẩm hết hạn sử dụng",
    "con tôi đau bụng vì bánh mì có ruồi",  "rau không rõ nguồn gốc, thuốc trừ sâu",
    "sữa hết hạn bán cho trẻ em",           "nha hang de thuc an o noi ban",
    "ăn lẩu xong cả nhà bị tiêu chảy",      "thịt gà bốc mùi hôi thối",
    "quán cơm mất vệ sinh, gián bò",        "mua bánh kẹo bị mốc xanh",
};
static const char *const TELECOM[] = {
    "mạng internet chập chờn cả tuần",
    "cuoc dien thoai tang vo ly",
    "nhà mạng trừ tiền gói cước không đăng ký",
    "wifi mất kết nối liên tục",
    "sim bị khoá không rõ lý do",
    "tổng đài không ai nghe máy khi báo hỏng mạng",
    "tin nhắn rác quảng cáo liên tục",
    "goi data 4g bi tru tien",
    "cáp quang đứt ba ngày chưa sửa",
    "nhà mạng tự gia hạn dịch vụ",
    "sóng điện thoại yếu, cước vẫn thu đủ",
    "mang cham, toc do khong nhu cam ket",
};
static const char *const OTHER[] = {
    "cho tôi hỏi số điện thoại của sở",
    "tôi muốn hỏi thủ tục",
    "không rõ phải khiếu nại ở đâu",
    "hàng xóm ồn ào buổi tối",
    "xin hướng dẫn làm đơn",
    "hỏi giờ làm việc của văn phòng",
    "toi muon gop y ve chinh sach",
    "có người lạ gọi điện nhiều lần",
    "cần tư vấn về quyền lợi chung",
    "hỏi về kết quả đơn trước",
    "nhiều vấn đề cùng lúc không biết bắt đầu",
    "cảm ơn cán bộ đã hỗ trợ",
};

static void write_tsv(const char *dir, const char *slug, const char *const *rows, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.tsv", dir, slug);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("set\tstyle\tbusiness\tproduct\ttext\n", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\tshort\t\t\t%s\n", i % 4 == 3 ? "test" : "train", rows[i]);
    fclose(f);
}

static char corpus_dir[256];

static void make_corpus(void)
{
    snprintf(corpus_dir, sizeof corpus_dir, "/tmp/test_triage.XXXXXX");
    assert_non_null(mkdtemp(corpus_dir));
    write_tsv(corpus_dir, "food_safety", FOOD, 12);
    write_tsv(corpus_dir, "telecom", TELECOM, 12);
    write_tsv(corpus_dir, "other", OTHER, 12);
}

static void drop_corpus(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", corpus_dir);
    assert_int_equal(system(cmd), 0);
}

static char *train(void)
{
    cpm_error_t err = {0};
    cpm_triage_corpus_t *c = cpm_triage_corpus_load(corpus_dir, &err);
    assert_non_null(c);
    char *json = NULL;
    assert_int_equal(cpm_triage_train(c, &json, NULL, &err), 0);
    cpm_triage_corpus_destroy(&c);
    return json;
}

static void test_train_deterministic(void **state)
{
    (void)state;
    make_corpus();
    char *a = train(), *b = train();
    assert_string_equal(a, b);
    cpm_error_t err = {0};
    cpm_triage_t *m = cpm_triage_parse(a, strlen(a), &err);
    assert_non_null(m);
    assert_int_equal(cpm_triage_ncategories(m), 3);
    assert_string_equal(cpm_triage_category(m, 0), "food_safety"); /* byte order */
    assert_int_equal(strncmp(cpm_triage_id(m), "hanoi-triage-1/", 15), 0);
    assert_int_equal(strlen(cpm_triage_id(m)), 23);
    cpm_triage_suggestion_t s;
    assert_int_equal(
        cpm_triage_suggest(m, "Quán phở", "", "ăn xong bị ngộ độc, đau bụng, tiêu chảy", &s, &err),
        0);
    assert_string_equal(s.top, "food_safety");
    assert_string_equal(s.category, "food_safety");
    assert_true(s.pm > 0 && s.pm <= 1000);
    assert_true(s.nwhy >= 1 && s.nwhy <= CPM_TRIAGE_WHY_MAX);
    /* the same without diacritics */
    assert_int_equal(
        cpm_triage_suggest(m, NULL, NULL, "mang internet chap chon, cuoc tang", &s, &err), 0);
    assert_string_equal(s.category, "telecom");
    /* evaluation runs on the held-out rows */
    cpm_triage_corpus_t *c = cpm_triage_corpus_load(corpus_dir, &err);
    cpm_triage_eval_t *e = cpm_triage_eval_run(m, c, true, 700, &err);
    assert_non_null(e);
    assert_int_equal(cpm_triage_eval_rows(e), 9);
    json_t *j = cpm_triage_eval_json(e);
    assert_non_null(json_object_get(j, "confusion"));
    json_decref(j);
    cpm_triage_eval_destroy(&e);
    cpm_triage_corpus_destroy(&c);
    cpm_triage_destroy(&m);
    free(a);
    free(b);
    drop_corpus();
}

static cpm_triage_t *small_model(void)
{
    make_corpus();
    char *a = train();
    cpm_error_t err = {0};
    cpm_triage_t *m = cpm_triage_parse(a, strlen(a), &err);
    free(a);
    drop_corpus();
    assert_non_null(m);
    return m;
}

static void test_suggest_bad_input(void **state)
{
    (void)state;
    cpm_triage_t *m = small_model();
    cpm_triage_suggestion_t s;
    cpm_error_t err = {0};
    static const char *const unknown[] = {
        "",
        "12345 678 9",
        "!!! ??? ...",
        "The food at this restaurant made me very sick yesterday evening",
        "我在商店买的东西坏了，商家不退款",
        "Le produit acheté est défectueux et le vendeur refuse de le reprendre",
    };
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        assert_int_equal(cpm_triage_suggest(m, "", "", unknown[i], &s, &err), 0);
        assert_string_equal(s.category, "");
        assert_true(s.pm < 700);
    }
    /* Too few known syllables: unknown. */
    assert_int_equal(cpm_triage_suggest(m, NULL, NULL, "phở", &s, &err), 0);
    assert_string_equal(s.category, "");
    /* Invalid UTF-8 in each field: named. */
    assert_int_equal(cpm_triage_suggest(m, "a\xc3", "", "ngộ độc", &s, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "business");
    assert_int_equal(cpm_triage_suggest(m, "", "\xff", "ngộ độc", &s, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "product");
    assert_int_equal(cpm_triage_suggest(m, "", "", "ngộ \xc0\x80", &s, &err), CPM_E_INVALID);
    assert_string_equal(err.field, "description");
    /* A NUL ends the text: what follows it is not read. */
    static const char nul[] = "xyz qqq\0ngộ độc thực phẩm ăn phở";
    assert_int_equal(cpm_triage_suggest(m, NULL, NULL, nul, &s, &err), 0);
    assert_string_equal(s.category, "");
    /* 1 MiB of text: answered, bounded. */
    size_t n = 1u << 20;
    char *big = malloc(n + 1);
    const char *w = "ngộ độc ";
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i += wl)
        memcpy(big + i, w, wl);
    big[n - n % wl] = 0;
    assert_int_equal(cpm_triage_suggest(m, NULL, NULL, big, &s, &err), 0);
    assert_string_equal(s.top, "food_safety");
    assert_true(s.tokens <= CPM_TTEXT_USE_MAX);
    free(big);
    cpm_triage_destroy(&m);
}

/* The loader: every refusal names what is wrong. */
static void refused(const char *text, int code, const char *field)
{
    cpm_error_t err = {0};
    cpm_triage_t *m = cpm_triage_parse(text, strlen(text), &err);
    if (m)
        fail_msg("accepted: %s", text);
    assert_int_equal(err.code, code);
    assert_string_equal(err.field, field);
}

#define HEAD                                                                                       \
    "\"format\":\"cpmesh-triage-model\",\"version\":1,\"kind\":\"multinomial_nb\","                \
    "\"model_id\":\"hanoi-triage-1/"                                                               \
    "0123abcd\",\"alpha_milli\":100,\"scale_milli\":5000,\"shrink\":10,"                           \
    "\"min_known\":3,\"binary\":true,"
#define CATS "\"categories\":[{\"slug\":\"a\",\"docs\":3},{\"slug\":\"b\",\"docs\":2}],"

static void test_loader_refuses(void **state)
{
    (void)state;
    cpm_error_t err = {0};
    const char *good = "{" HEAD CATS "\"features\":[[\"pho\",0,3,1,1],[\"mang\",1,2]]}";
    cpm_triage_t *m = cpm_triage_parse(good, strlen(good), &err);
    assert_non_null(m);
    assert_int_equal(cpm_triage_nfeatures(m), 2);
    cpm_triage_destroy(&m);
    refused("", CPM_E_INVALID, "model");
    refused("{\"format\":", CPM_E_INVALID, "model"); /* truncated */
    refused("[1,2]", CPM_E_INVALID, "model");
    refused("{\"format\":\"other\"}", CPM_E_INVALID, "format");
    refused("{" HEAD CATS "\"features\":[[\"x\",0,NaN]]}", CPM_E_INVALID, "model");
    refused("{" HEAD CATS "\"features\":[[\"x\",0,1e400]]}", CPM_E_INVALID, "model");
    refused("{" HEAD CATS "\"features\":[[\"x\",0,1.5]]}", CPM_E_INVALID, "features");
    refused("{" HEAD CATS "\"features\":[[\"x\",2,1]]}", CPM_E_INVALID, "features");
    refused("{" HEAD CATS "\"features\":[[\"x\",1,1,0,1]]}", CPM_E_INVALID, "features");
    refused("{" HEAD CATS "\"features\":[[\"x\",0,1],[\"x\",1,1]]}", CPM_E_INVALID, "features");
    refused("{" HEAD CATS "\"features\":[[\"x\",0,100000001]]}", CPM_E_INVALID, "features");
    refused("{" HEAD CATS "\"features\":[[\"\xff\",0,1]]}", CPM_E_INVALID, "model");
    refused("{" HEAD CATS "\"features\":{}}", CPM_E_INVALID, "features");
    refused("{" HEAD "\"categories\":[{\"slug\":\"a\",\"docs\":3}],\"features\":[]}", CPM_E_INVALID,
            "categories");
    refused("{" HEAD "\"categories\":[{\"slug\":\"a\",\"docs\":3},{\"slug\":\"a\",\"docs\":1}],"
            "\"features\":[]}",
            CPM_E_INVALID, "categories");
    refused("{" HEAD "\"categories\":[{\"slug\":\"A B\",\"docs\":3},{\"slug\":\"b\",\"docs\":1}],"
            "\"features\":[]}",
            CPM_E_INVALID, "categories");
    refused("{\"format\":\"cpmesh-triage-model\",\"version\":2}", CPM_E_INVALID, "version");
    refused("{\"format\":\"cpmesh-triage-model\",\"version\":1,\"kind\":\"multinomial_nb\","
            "\"model_id\":\"hanoi-triage-1/xyz\"}",
            CPM_E_INVALID, "model_id");
    refused("{\"format\":\"cpmesh-triage-model\",\"version\":1,\"kind\":\"multinomial_nb\","
            "\"model_id\":\"hanoi-triage-1/0123abcd\",\"alpha_milli\":0.5}",
            CPM_E_INVALID, "alpha_milli");
    refused("{\"format\":\"cpmesh-triage-model\",\"format\":\"cpmesh-triage-model\"}",
            CPM_E_INVALID, "model"); /* duplicate keys */
    /* Over the size cap: refused before parsing. */
    size_t n = CPM_TRIAGE_FILE_MAX + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    m = cpm_triage_parse(big, n, &err);
    assert_null(m);
    assert_int_equal(err.code, CPM_E_TOO_LARGE);
    free(big);
    /* Files: missing, and not a regular file. */
    assert_null(cpm_triage_load("/nonexistent/model.json", &err));
    assert_int_equal(err.code, CPM_E_NOT_FOUND);
    assert_string_equal(err.field, "triage_model");
    assert_null(cpm_triage_load("/tmp", &err));
    assert_string_equal(err.field, "triage_model");
}

/* A model of ncat categories and nf features, each in category 0 once. */
static char *model_text(size_t ncat, size_t nf, size_t *len)
{
    size_t cap = 4096 + ncat * 32 + nf * 24, l = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    l += (size_t)snprintf(b + l, cap - l, "{" HEAD "\"categories\":[");
    for (size_t c = 0; c < ncat; c++)
        l += (size_t)snprintf(b + l, cap - l, "%s{\"slug\":\"c%zu\",\"docs\":1}", c ? "," : "", c);
    l += (size_t)snprintf(b + l, cap - l, "],\"features\":[");
    for (size_t f = 0; f < nf; f++)
        l += (size_t)snprintf(b + l, cap - l, "%s[\"f%zu\",0,1]", f ? "," : "", f);
    l += (size_t)snprintf(b + l, cap - l, "]}");
    assert_true(l < cap);
    *len = l;
    return b;
}

/* Features x categories is bounded (the tables are dense) before the
 * tables are allocated, and so is the file. */
static void test_loader_bounds(void **state)
{
    (void)state;
    cpm_error_t err = {0};
    size_t len;
    /* 64 x 200,000 = 12.8M cells (~100 MB of tables): refused. */
    char *t = model_text(64, 200000, &len);
    assert_true(len <= CPM_TRIAGE_FILE_MAX);
    cpm_triage_t *m = cpm_triage_parse(t, len, &err);
    assert_null(m);
    assert_int_equal(err.code, CPM_E_TOO_LARGE);
    assert_string_equal(err.field, "features");
    free(t);
    /* The edge: 64 x 62,500 = 4,000,000 cells loads, one more feature not. */
    t = model_text(64, CPM_TRIAGE_CELLS_MAX / 64, &len);
    m = cpm_triage_parse(t, len, &err);
    assert_non_null(m);
    assert_int_equal(cpm_triage_nfeatures(m), CPM_TRIAGE_CELLS_MAX / 64);
    cpm_triage_destroy(&m);
    free(t);
    t = model_text(64, CPM_TRIAGE_CELLS_MAX / 64 + 1, &len);
    assert_null(cpm_triage_parse(t, len, &err));
    assert_string_equal(err.field, "features");
    free(t);
    /* A 9 MiB file is over the cap (8 MiB) whatever it holds. */
    size_t n = 9u << 20;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    assert_null(cpm_triage_parse(big, n, &err));
    assert_int_equal(err.code, CPM_E_TOO_LARGE);
    assert_string_equal(err.field, "model");
    char path[] = "/tmp/cpm_triage_bigXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, big, n), (ssize_t)n);
    close(fd);
    assert_null(cpm_triage_load(path, &err));
    assert_int_equal(err.code, CPM_E_TOO_LARGE);
    assert_string_equal(err.field, "triage_model");
    unlink(path);
    free(big);
}

static void test_corpus_refuses(void **state)
{
    (void)state;
    cpm_error_t err = {0};
    assert_null(cpm_triage_corpus_load("/nonexistent", &err));
    assert_int_equal(err.code, CPM_E_NOT_FOUND);
    make_corpus();
    char path[512];
    snprintf(path, sizeof path, "%s/telecom.tsv", corpus_dir);
    FILE *f = fopen(path, "a");
    fputs("valid\tshort\t\t\tsomething\n", f);
    fclose(f);
    assert_null(cpm_triage_corpus_load(corpus_dir, &err));
    assert_string_equal(err.field, "telecom");
    assert_non_null(strstr(err.message, "telecom.tsv:14"));
    drop_corpus();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_features_bad_input),
        cmocka_unit_test(test_train_deterministic),
        cmocka_unit_test(test_suggest_bad_input),
        cmocka_unit_test(test_loader_refuses),
        cmocka_unit_test(test_loader_bounds),
        cmocka_unit_test(test_corpus_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
