/* test_sheets: .xlsx round trips through libxlsxwriter and our reader, hand-made workbooks
 * for the parts libxlsxwriter never writes, broken and oversized files, and .zip export. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "sheets.h"

static char tmpdir[] = "/tmp/ym_test_sheets_XXXXXX";
static char path[256];

static const char *tmpfile_name(const char *name)
{
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static int exists(const char *p)
{
    return access(p, F_OK) == 0;
}

/* Reads one zip entry through libzip, as an independent reader. */
static char *zip_entry_text(const char *zpath, const char *name)
{
    zip_t *z = zip_open(zpath, ZIP_RDONLY, NULL);
    assert_non_null(z);
    zip_stat_t st;
    assert_int_equal(zip_stat(z, name, 0, &st), 0);
    char *buf = calloc(1, st.size + 1);
    zip_file_t *f = zip_fopen(z, name, 0);
    assert_non_null(f);
    assert_int_equal(zip_fread(f, buf, st.size), (zip_int64_t)st.size);
    assert_int_equal(zip_fclose(f), 0);
    zip_discard(z);
    return buf;
}

/* Writes a zip of text entries, for workbooks made by hand. */
static void make_zip(const char *zpath, const char *const *names, const char *const *texts, size_t n)
{
    zip_t *z = zip_open(zpath, ZIP_CREATE | ZIP_TRUNCATE, NULL);
    assert_non_null(z);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(z, texts[i], strlen(texts[i]), 0);
        assert_non_null(s);
        assert_true(zip_file_add(z, names[i], s, ZIP_FL_ENC_UTF_8) >= 0);
    }
    assert_int_equal(zip_close(z), 0);
}

#define WB "<?xml version=\"1.0\" encoding=\"UTF-8\"?><workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" " \
           "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><sheets>" \
           "<sheet name=\"第一\" sheetId=\"1\" r:id=\"rId7\"/><sheet name=\"two\" sheetId=\"2\" r:id=\"rId1\"/></sheets></workbook>"
#define RELS "<?xml version=\"1.0\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">" \
             "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet2.xml\"/>" \
             "<Relationship Id=\"rId7\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"/xl/worksheets/first.xml\"/>" \
             "<Relationship Id=\"rId3\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings\" Target=\"sharedStrings.xml\"/>" \
             "</Relationships>"
#define SST "<?xml version=\"1.0\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"2\" uniqueCount=\"2\">" \
            "<si><t>普通</t></si><si><r><rPr><b/></rPr><t>富</t></r><r><t xml:space=\"preserve\">文本 </t></r>" \
            "<rPh sb=\"0\" eb=\"1\"><t>ふ</t></rPh></si></sst>"
#define SHEET_HEAD "<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>"
#define SHEET_TAIL "</sheetData></worksheet>"

static void make_book(const char *zpath, const char *sheetdata)
{
    char *sheet = NULL;
    assert_true(asprintf(&sheet, SHEET_HEAD "%s" SHEET_TAIL, sheetdata) > 0);
    const char *names[] = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/sharedStrings.xml",
                           "xl/worksheets/first.xml", "xl/worksheets/sheet2.xml"};
    const char *texts[] = {WB, RELS, SST, sheet, SHEET_HEAD "<row r=\"1\"><c r=\"A1\"><v>99</v></c></row>" SHEET_TAIL};
    make_zip(zpath, names, texts, 5);
    free(sheet);
}

static void expect_read_error(const char *p, const char *msg)
{
    ym_sheet_data *d = (ym_sheet_data *)1;
    char err[256] = "";
    assert_int_equal(ym_sheet_read_xlsx(p, &d, err, sizeof err), -1);
    assert_null(d);
    if (!strstr(err, msg)) fail_msg("error \"%s\" lacks \"%s\"", err, msg);
}

/* ---- tests ---- */

#define NCOLS 30

static void write_sample(const char *p)
{
    static char titles[NCOLS][16];
    const char *header[NCOLS];
    ym_cell cells[2 * NCOLS] = {0};
    for (int c = 0; c < NCOLS; c++) {
        snprintf(titles[c], sizeof titles[c], "列%d", c + 1);
        header[c] = titles[c];
    }
    cells[0] = (ym_cell){.type = YM_CELL_TEXT, .text = "张三，县政务服务中心"};
    cells[1] = (ym_cell){.type = YM_CELL_NUMBER, .number = -12.25};
    cells[2] = (ym_cell){.type = YM_CELL_BOOL, .boolean = 1};
    cells[3] = (ym_cell){.type = YM_CELL_DATE, .date = 19737};     /* 2024-01-15 */
    cells[NCOLS - 1] = (ym_cell){.type = YM_CELL_TEXT, .text = "末列"};
    cells[NCOLS + 0] = (ym_cell){.type = YM_CELL_TEXT, .text = "张三，县政务服务中心"};
    cells[NCOLS + 2] = (ym_cell){.type = YM_CELL_BOOL, .boolean = 0};
    cells[NCOLS + 1] = (ym_cell){.type = YM_CELL_NUMBER, .number = 1e9};
    ym_sheet s = {.name = "导出数据", .ncols = NCOLS, .header = header, .nrows = 2, .cells = cells};
    char err[256] = "";
    if (ym_sheet_write_xlsx(p, &s, err, sizeof err) != 0) fail_msg("write: %s", err);
}

static void test_round_trip(void **state)
{
    const char *p = tmpfile_name("round.xlsx");
    write_sample(p);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    assert_false(exists(tmp));
    ym_sheet_data *d = NULL;
    char err[256] = "";
    if (ym_sheet_read_xlsx(p, &d, err, sizeof err) != 0) fail_msg("read: %s", err);
    assert_int_equal(d->nrows, 3);
    assert_int_equal(d->ncols, NCOLS);
    assert_int_equal(d->cells[0].type, YM_CELL_TEXT);
    assert_string_equal(d->cells[0].text, "列1");
    assert_string_equal(d->cells[NCOLS - 1].text, "列30");
    const ym_cell *r1 = d->cells + NCOLS, *r2 = d->cells + 2 * NCOLS;
    assert_string_equal(r1[0].text, "张三，县政务服务中心");
    assert_int_equal(r1[1].type, YM_CELL_NUMBER);
    assert_true(r1[1].number == -12.25);
    assert_int_equal(r1[2].type, YM_CELL_BOOL);
    assert_int_equal(r1[2].boolean, 1);
    assert_int_equal(r1[3].type, YM_CELL_NUMBER);   /* dates come back as serial days */
    assert_true(r1[3].number == 19737 + YM_EXCEL_EPOCH_1970);
    assert_int_equal(r1[4].type, YM_CELL_EMPTY);
    assert_int_equal(r1[NCOLS - 1].type, YM_CELL_TEXT);   /* column AD */
    assert_string_equal(r1[NCOLS - 1].text, "末列");
    assert_string_equal(r2[0].text, "张三，县政务服务中心");
    assert_true(r2[1].number == 1e9);
    assert_int_equal(r2[2].type, YM_CELL_BOOL);
    assert_int_equal(r2[2].boolean, 0);
    assert_int_equal(r2[NCOLS - 1].type, YM_CELL_EMPTY);
    ym_sheet_data_free(d);
}

/* What libxlsxwriter wrote: shared strings, a bold frozen header, the date format. */
static void test_shared_strings_file(void **state)
{
    const char *p = tmpfile_name("sst.xlsx");
    write_sample(p);
    char *sst = zip_entry_text(p, "xl/sharedStrings.xml");
    assert_non_null(strstr(sst, "张三，县政务服务中心"));
    free(sst);
    char *sheet = zip_entry_text(p, "xl/worksheets/sheet1.xml");
    assert_non_null(strstr(sheet, "r=\"AD2\" t=\"s\""));
    assert_non_null(strstr(sheet, "state=\"frozen\""));
    free(sheet);
    char *styles = zip_entry_text(p, "xl/styles.xml");
    assert_non_null(strstr(styles, "yyyy-mm-dd"));
    assert_non_null(strstr(styles, "<b/>"));
    free(styles);
    char *wb = zip_entry_text(p, "xl/workbook.xml");
    assert_non_null(strstr(wb, "导出数据"));
    free(wb);
}

static void test_write_errors(void **state)
{
    const char *p = tmpfile_name("bad.xlsx");
    const char *header[] = {"a", "b"};
    ym_cell cells[2] = {{.type = YM_CELL_TEXT, .text = "x"}, {.type = YM_CELL_NUMBER, .number = NAN}};
    ym_sheet s = {.name = "s", .ncols = 2, .header = header, .nrows = 1, .cells = cells};
    char err[256] = "";
    assert_int_equal(ym_sheet_write_xlsx(p, &s, err, sizeof err), -1);
    assert_string_equal(err, "row 2, column B: number is not finite");
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    assert_false(exists(p));
    assert_false(exists(tmp));
    s.name = "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二";   /* 32 characters */
    cells[1].number = 1;
    assert_int_equal(ym_sheet_write_xlsx(p, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "worksheet name"));
    assert_false(exists(p));
    s.name = "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一";     /* 31 is fine */
    assert_int_equal(ym_sheet_write_xlsx(p, &s, err, sizeof err), 0);
    cells[0].text = "\xff";
    assert_int_equal(ym_sheet_write_xlsx(p, &s, err, sizeof err), -1);
    assert_string_equal(err, "row 2, column A: invalid UTF-8");
    assert_int_equal(unlink(p), 0);
}

/* Inline strings, rich text, formulas' cached strings, cells without r, sheet order by rels. */
static void test_hand_made(void **state)
{
    const char *p = tmpfile_name("hand.xlsx");
    make_book(p, "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c>"
                 "<c t=\"inlineStr\"><is><t>内联</t></is></c></row>"
                 "<row r=\"3\"><c r=\"AA3\" t=\"str\"><f>A1&amp;\"x\"</f><v>普通x</v></c>"
                 "<c r=\"AB3\" t=\"b\"><v>1</v></c><c r=\"AC3\" s=\"1\"/><c r=\"AD3\"><v>4.5E+2</v></c></row>");
    ym_sheet_data *d = NULL;
    char err[256] = "";
    if (ym_sheet_read_xlsx(p, &d, err, sizeof err) != 0) fail_msg("read: %s", err);
    assert_int_equal(d->nrows, 3);
    assert_int_equal(d->ncols, 30);
    assert_string_equal(d->cells[0].text, "普通");
    assert_string_equal(d->cells[1].text, "富文本 ");
    assert_string_equal(d->cells[2].text, "内联");
    assert_int_equal(d->cells[30].type, YM_CELL_EMPTY);     /* row 2 absent */
    const ym_cell *r3 = d->cells + 60;
    assert_string_equal(r3[26].text, "普通x");
    assert_int_equal(r3[27].type, YM_CELL_BOOL);
    assert_int_equal(r3[28].type, YM_CELL_EMPTY);
    assert_true(r3[29].number == 450);
    ym_sheet_data_free(d);

    make_book(p, "<row r=\"7\"><c r=\"A7\"><v>1</v></c><c r=\"C7\" t=\"e\"><f>1/0</f><v>#DIV/0!</v></c></row>");
    expect_read_error(p, "row 7, column C: #DIV/0!");
    make_book(p, "<row r=\"3\"><c r=\"A3\"><v>1</v></c><c r=\"3B\"><v>2</v></c></row>");
    expect_read_error(p, "row 3, column B: bad cell reference");
    make_book(p, "<row r=\"2\"><c r=\"B2\" t=\"s\"><v>5</v></c></row>");
    expect_read_error(p, "row 2, column B: bad shared string index");
    make_book(p, "<row r=\"1\"><c r=\"XFD1048576\"><v>1</v></c></row>");
    expect_read_error(p, "exceeds 1000000 cells");
    make_book(p, "<row r=\"1\"><c r=\"A1\"><v>1</v></c>");
    expect_read_error(p, "bad XML");
    assert_int_equal(unlink(p), 0);
}

static void test_not_xlsx(void **state)
{
    const char *p = tmpfile_name("plain.xlsx");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("姓名,电话\n张三,123\n", f);
    assert_int_equal(fclose(f), 0);
    expect_read_error(p, "not an .xlsx file");
    const char *names[] = {"hello.txt"};
    const char *texts[] = {"a zip, but not a workbook"};
    make_zip(p, names, texts, 1);
    expect_read_error(p, "not an .xlsx file");
    assert_int_equal(unlink(p), 0);
    expect_read_error(tmpfile_name("missing.xlsx"), "cannot open");
}

/* Flips bytes inside the worksheet's compressed data: inflate or the CRC must catch it. */
static void test_corrupt_zip(void **state)
{
    const char *p = tmpfile_name("corrupt.xlsx");
    write_sample(p);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    assert_true(n > 0 && n < sizeof buf);
    const char *name = "xl/worksheets/sheet1.xml";
    char *at = memmem(buf, n, name, strlen(name));     /* first hit: the local header */
    assert_non_null(at);
    size_t off = (size_t)(at - buf) + strlen(name) + 40;
    assert_true(off + 16 < n);
    for (size_t i = 0; i < 16; i++) buf[off + i] ^= 0x5a;
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    expect_read_error(p, "xl/worksheets/sheet1.xml");
    assert_int_equal(truncate(p, (off_t)n / 2), 0);
    expect_read_error(p, "not an .xlsx file");
    assert_int_equal(unlink(p), 0);
}

/* A 65 MiB entry compresses to a few kilobytes: refused before it is inflated. */
static void test_zip_bomb(void **state)
{
    const char *p = tmpfile_name("bomb.xlsx");
    size_t big = YM_SHEET_MAX_ENTRY + 1;
    char *spaces = malloc(big + 1);
    assert_non_null(spaces);
    memset(spaces, ' ', big);
    spaces[big] = '\0';
    const char *names[] = {"xl/workbook.xml"};
    const char *texts[] = {spaces};
    make_zip(p, names, texts, 1);
    free(spaces);
    expect_read_error(p, "larger than 64 MiB");
    assert_int_equal(unlink(p), 0);
}

static void test_zip_write(void **state)
{
    const char *p = tmpfile_name("export.zip");
    static const unsigned char bin[] = {0, 1, 2, 255};
    ym_zip_entry e[] = {{"表格/导出.csv", "a,b\n", 4}, {"files/x.bin", bin, sizeof bin}, {"empty.txt", NULL, 0}};
    char err[256] = "";
    if (ym_zip_write(p, e, 3, "{\"count\":2}", err, sizeof err) != 0) fail_msg("zip: %s", err);
    zip_t *z = zip_open(p, ZIP_RDONLY | ZIP_CHECKCONS, NULL);
    assert_non_null(z);
    assert_int_equal(zip_get_num_entries(z, 0), 4);
    assert_string_equal(zip_get_name(z, 0, 0), "manifest.json");
    assert_string_equal(zip_get_name(z, 1, 0), "表格/导出.csv");
    assert_string_equal(zip_get_name(z, 3, 0), "empty.txt");
    zip_discard(z);
    char *m = zip_entry_text(p, "manifest.json");
    assert_string_equal(m, "{\"count\":2}");
    free(m);
    char *csv = zip_entry_text(p, "表格/导出.csv");
    assert_string_equal(csv, "a,b\n");
    free(csv);
    char *b = zip_entry_text(p, "files/x.bin");
    assert_memory_equal(b, bin, sizeof bin);
    free(b);
    assert_int_equal(unlink(p), 0);
}

static void test_zip_refuses(void **state)
{
    const char *p = tmpfile_name("refused.zip");
    const char *bad[] = {"../etc/passwd", "a/../../b", "/abs", "a\\b", "", "a//b", "C:x", ".."};
    char err[256] = "";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ym_zip_entry e[] = {{"ok.txt", "x", 1}, {bad[i], "y", 1}};
        assert_int_equal(ym_zip_write(p, e, 2, NULL, err, sizeof err), -1);
        assert_non_null(strstr(err, "not a relative path"));
        assert_false(exists(p));
    }
    ym_zip_entry dup[] = {{"a.txt", "x", 1}, {"a.txt", "y", 1}};
    assert_int_equal(ym_zip_write(p, dup, 2, NULL, err, sizeof err), -1);
    assert_false(exists(p));
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    assert_false(exists(tmp));
}

static void test_col_name(void **state)
{
    char b[8];
    size_t cols[] = {0, 25, 26, 27, 51, 52, 701, 702, 16383};
    const char *want[] = {"A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA", "XFD"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        ym_sheet_col_name(cols[i], b, sizeof b);
        assert_string_equal(b, want[i]);
    }
}

static int setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_col_name),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_shared_strings_file),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_hand_made),
        cmocka_unit_test(test_not_xlsx),
        cmocka_unit_test(test_corrupt_zip),
        cmocka_unit_test(test_zip_bomb),
        cmocka_unit_test(test_zip_write),
        cmocka_unit_test(test_zip_refuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
