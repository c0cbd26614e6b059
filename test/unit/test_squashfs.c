/*
 * launcher/image/squashfs.c: what is taken for a squashfs image (nothing is mounted here).
 */
#include "unit.h"

#include "launcher/image/squashfs.h"

static void magic_makes_an_image(void **state)
{
	struct dir_fixture *f = *state;
	cleanup_free char *image = dir_fixture_at(f, "image.sqfs"),
			  *bare = dir_fixture_at(f, "bare");
	cleanup_free char *link = dir_fixture_at(f, "link.sqfs");

	/* the superblock starts with "hsqs"; the rest is not looked at */
	write_text(image, NULL, "hsqs\x04\x01 and the rest of a superblock");
	assert_true(squashfs_is_image(image));
	/* the magic alone, whatever the file's name */
	write_text(bare, NULL, "hsqs");
	assert_true(squashfs_is_image(bare));
	/* a symlink to an image is followed, like the path a user gives */
	assert_int_equal(symlink(image, link), 0);
	assert_true(squashfs_is_image(link));
}

static void other_files_are_not(void **state)
{
	struct dir_fixture *f = *state;
	/* too short, empty, another magic, upper case, big endian, not at the start */
	static const struct {
		const char *name, *text;
	} files[] = {
		{"short", "hsq"},
		{"empty", ""},
		{"other", "SIF_MAGIC and more bytes"},
		{"upper", "HSQS and more bytes"},
		{"big-endian", "sqsh and more bytes"},
		{"later", " hsqs"},
	};
	cleanup_free char *dir = dir_fixture_at(f, "dir.sqfs"), *fifo = dir_fixture_at(f, "fifo");
	cleanup_free char *missing = dir_fixture_at(f, "missing.sqfs"),
			  *dangling = dir_fixture_at(f, "dangling");

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		cleanup_free char *path = dir_fixture_at(f, files[i].name);

		write_text(path, NULL, files[i].text);
		if (squashfs_is_image(path))
			fail_msg("%s (\"%s\") taken for an image", files[i].name, files[i].text);
	}
	/* a directory, even one holding an image, and its name ending in .sqfs */
	make_dir(f->dir, "dir.sqfs", 0755);
	write_text(dir, "hsqs", "hsqs");
	assert_false(squashfs_is_image(dir));
	/* a FIFO is not opened for a read that would wait for a writer */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_false(squashfs_is_image(fifo));
	assert_false(squashfs_is_image(missing));
	assert_int_equal(symlink(missing, dangling), 0);
	assert_false(squashfs_is_image(dangling));
}

#define T(name) cmocka_unit_test_setup_teardown(name, dir_fixture_setup, dir_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(magic_makes_an_image),
		T(other_files_are_not),
	};

	return cmocka_run_group_tests_name("squashfs", tests, NULL, NULL);
}
