"""Command line: python -m generator {validate,build,...}."""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from .errors import InvalidPackage, format_table
from .package import DEFAULT_DATA, ROOT


def cmd_validate(args) -> int:
    from .package import validate

    errors = validate(args.data)
    if errors:
        print(format_table(errors))
        print(f"\n数据包无效：{len(errors)} 个错误（{args.data}）", file=sys.stderr)
        return 1
    print(f"数据包有效：{args.data}")
    return 0


def cmd_build(args) -> int:
    from .build import BuildRefused, build
    from .linkcheck import BrokenLinks
    from .safety import UnsafeSite

    try:
        result = build(args.data, args.out)
    except InvalidPackage as exc:
        print(format_table(exc.errors))
        print(f"\n构建已停止：数据包无效（{len(exc.errors)} 个错误），未发布任何内容，"
              f"{args.out} 保持原样。", file=sys.stderr)
        return 1
    except BrokenLinks as exc:
        print(exc, file=sys.stderr)
        print(f"\n构建已停止：站点有失效的站内链接，未发布任何内容，{args.out} 保持原样。", file=sys.stderr)
        return 1
    except UnsafeSite as exc:
        print(exc, file=sys.stderr)
        print(f"\n构建已停止：页面未通过安全检查，未发布任何内容，{args.out} 保持原样。", file=sys.stderr)
        return 1
    except BuildRefused as exc:
        print(f"构建已停止：{exc}", file=sys.stderr)
        return 1
    print(f"站点已生成：{result.out_dir}（{result.pages} 个页面）")
    for stage, seconds in result.timings.items():
        print(f"  {stage:<12} {seconds:7.2f} s")
    return 0


def cmd_diff(args) -> int:
    from .diff import run

    return run(args.old, args.new, args.data, limit=args.limit)


def cmd_import(args) -> int:
    from .importers import ImportFailed, run_import

    try:
        run_import(args.mapping, args.sources, args.out, args.report, dry_run=args.dry_run)
    except ImportFailed as exc:
        print(format_table(exc.errors))
        print(f"\n导入已停止：{exc.message}。{args.out} 保持原样。", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generator", description="集采公开 站点生成器")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="校验数据包（Frictionless 表结构 + 附加规则）")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("build", help="校验并生成静态站点")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=ROOT / "site")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("diff", help="比较两个数据包（目录或 git 版本），输出 Markdown 变更报告")
    p.add_argument("old", help="旧数据包：目录，或 git 版本（如 HEAD~1、main）")
    p.add_argument("new", help="新数据包：目录，或 git 版本")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA,
                   help="git 版本所指的数据目录（默认 data/）")
    p.add_argument("--limit", type=int, default=100, help="每个列表最多列出的行数（默认 100）")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("import", help="按映射文件导入公开的结果表（.xlsx、.csv），写出完整的数据包")
    p.add_argument("--mapping", type=Path, required=True, help="描述表格版式的映射文件（YAML）")
    p.add_argument("--out", type=Path, required=True, help="数据包目录：新建，或替换其中已有的数据包")
    p.add_argument("--report", type=Path, default=None,
                   help="核算报告 CSV 的位置（默认：--out 旁的 <目录名>.import-report.csv）")
    p.add_argument("--dry-run", action="store_true", help="只打印核算与变化，不写入任何文件")
    p.add_argument("sources", nargs="+", type=Path, metavar="SOURCE",
                   help="来源文件：结果表，以及（可选）约定采购量表、企业名称映射表")
    p.set_defaults(func=cmd_import)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\n已中断，未发布任何内容。", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback for bad input: say what and where, exit non-zero
        if os.environ.get("VBP_TRACEBACK"):
            raise
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(f"{args.command} 失败，未发布任何内容：{type(exc).__name__}: {exc}\n"
              f"（出错位置 {Path(where.filename).name}:{where.lineno}；"
              f"设置环境变量 VBP_TRACEBACK=1 可查看完整调用栈）", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
