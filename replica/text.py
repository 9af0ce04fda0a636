"""Generated words: titles, body paragraphs, people and file names.

Everything here is a pure function of a ``random.Random``; nothing is copied from a real page.
Chinese text is assembled from a small phrase bank, English text from an English one, with
numbers mixed in so that two articles practically never share a sentence.
"""

from __future__ import annotations

import datetime as dt
import random

ZH_NAMES = (
    "张蕾",
    "白一含",
    "李明",
    "王晓东",
    "刘洋",
    "陈思远",
    "赵雪",
    "孙浩然",
    "周婷",
    "吴磊",
    "郑佳怡",
    "冯一鸣",
    "杨帆",
    "马骁",
    "韩雪梅",
    "徐凯",
    "何静",
    "高翔",
    "林晓",
    "罗成",
)
LATIN_NAMES = (
    "Lei Chang",
    "Yuhui Wang",
    "Ming Li",
    "Xiaodong Wang",
    "Yang Liu",
    "Siyuan Chen",
    "Xue Zhao",
    "Haoran Sun",
    "Ting Zhou",
    "Lei Wu",
    "Jiayi Zheng",
    "Yiming Feng",
    "Fan Yang",
    "Xiao Ma",
    "Kai Xu",
)

# How several names are separated on a page. The ground truth splits on these.
NAME_SEPARATORS = (", ", "、", "，", "; ")

ZH_ORIGINS = ("新闻网", "NEU", "党委宣传部", "信息学院", "科学技术研究院", "团委")
ZH_MEDIA = ("人民日报", "光明日报", "中国教育报", "辽宁日报", "新华社", "科技日报")
EN_ORIGINS = ("新闻网", "NEU", "International Office")

_ZH_SUBJECTS = (
    "学校",
    "东北大学",
    "我校",
    "信息科学与工程学院",
    "冶金学院",
    "机械工程与自动化学院",
    "校党委",
    "研究团队",
    "与会专家",
    "学生代表",
    "校领导",
    "研究生院",
    "国际合作与交流处",
    "教务处",
    "材料科学与工程学院",
    "计算机科学与工程学院",
)
_ZH_VERBS = (
    "召开",
    "举办",
    "深入推进",
    "组织开展",
    "积极参与",
    "全面部署",
    "认真落实",
    "隆重举行",
    "成功获批",
    "顺利完成",
    "启动",
    "总结",
)
_ZH_OBJECTS = (
    "本科教学工作会议",
    "国家重点研发计划项目",
    "人才培养模式改革",
    "科技创新成果展示",
    "研究生学术论坛",
    "产学研合作",
    "校园文化建设",
    "国际学术交流活动",
    "新生入学教育",
    "实验室安全检查",
    "智能制造联合实验室建设",
    "暑期社会实践",
    "青年教师教学竞赛",
    "学科建设推进会",
    "校友返校活动",
    "冶金工艺前沿讲座",
)
_ZH_CLAUSES = (
    "进一步提升了人才培养质量",
    "为学校高质量发展注入新动能",
    "受到与会人员的一致好评",
    "推动相关工作取得实效",
    "展现了东大学子的良好风貌",
    "为下一阶段工作明确了方向",
    "有力支撑了区域经济社会发展",
    "营造了浓厚的学术氛围",
    "加强了与兄弟高校的交流合作",
    "取得了一系列标志性成果",
)
_ZH_PLACES = ("浑南校区", "南湖校区", "秦皇岛分校", "学术交流中心", "图书馆报告厅", "建筑馆")
_ZH_TITLE_PREFIXES = ("", "", "", "【专题】", "【图文】")
_ZH_TZGG = (
    "关于做好{y}年寒假学生离校工作的通知",
    "关于开展{y}年度实验室安全自查的通知",
    "关于举办第{n}届研究生学术论坛的通知",
    "关于{y}年{m}月教职工政治理论学习安排的通知",
    "关于公布{y}年度大学生创新创业训练计划立项名单的通知",
    "关于组织申报{y}年度校级教学改革项目的通知",
)
_ZH_XSDT = (
    "学术报告：{topic}",
    "{place}学术讲座第{n}期：{topic}",
    "第{n}期青年学者论坛：{topic}",
)
_ZH_TOPICS = (
    "面向工业互联网的边缘智能",
    "高性能钢铁材料的组织调控",
    "复杂系统建模与优化",
    "大语言模型的可信推理",
    "新型储能材料研究进展",
    "矿物加工中的绿色工艺",
    "机器人感知与控制",
    "流程工业智能优化决策",
)

_EN_SUBJECTS = (
    "NEU",
    "The university",
    "A research team from NEU",
    "The School of Metallurgy",
    "The College of Information Science and Engineering",
    "NEU students",
    "Faculty members",
    "The International Office",
    "Visiting scholars",
    "The Graduate School",
)
_EN_VERBS = (
    "held",
    "launched",
    "hosted",
    "completed",
    "joined",
    "celebrated",
    "reviewed",
    "presented",
    "organized",
    "signed up for",
)
_EN_OBJECTS = (
    "an international forum on smart manufacturing",
    "a workshop on green metallurgy",
    "the annual undergraduate teaching conference",
    "a joint laboratory with industry partners",
    "a summer school for international students",
    "a symposium on artificial intelligence",
    "the opening ceremony of the new academic year",
    "a lecture series on materials science",
    "a cooperation agreement with a partner university",
    "a campus culture festival",
)
_EN_CLAUSES = (
    "drawing wide attention from peers",
    "which further deepened international cooperation",
    "marking a new step in talent cultivation",
    "with more than {n} participants on site",
    "according to the organizers",
    "in line with the university's development plan",
    "to strengthen interdisciplinary research",
    "after {m} months of preparation",
)
_EN_TITLES = (
    "NEU Holds {y} {obj_t}",
    "{subj_t} Wins Award at the {n}th National Competition",
    "Researchers from NEU Publish Findings on {topic_t}",
    "NEU and Partner Universities Sign Agreement on {topic_t}",
    "International Students Experience {culture_t} in Shenyang",
    "NEU R&D Team Makes Progress in {topic_t}",
    "{n} Students Graduate from the {y} Summer Program",
)
_EN_OBJ_T = (
    "Undergraduate Teaching Conference",
    "International Forum on Smart Manufacturing",
    "Symposium on Green Metallurgy",
    "Career Fair",
    "Alumni Homecoming Day",
)
_EN_TOPICS_T = (
    "Intelligent Manufacturing",
    "Lightweight Steel",
    "Edge Computing",
    "Battery Materials",
    "Robot Perception",
    "Process Industry Optimization",
)
_EN_CULTURE_T = ("Traditional Chinese Culture", "the Spring Festival", "Paper Cutting", "Tai Chi")
_EN_SUBJ_T = ("NEU Team", "NEU Student", "Robotics Club", "NEU Debate Team")

_FILE_STEMS_ZH = ("通知", "报名表", "申报指南", "汇总表", "日程安排", "名单公示", "实施方案")
_FILE_STEMS_EN = ("application-form", "schedule", "guide", "list", "program")
FILE_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

EN_MONTHS = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def zh_title(rng: random.Random, column: str, day: dt.date) -> str:
    """A Chinese headline for a column slug (tzgg reads like a notice, xsdt like a talk)."""
    n = rng.randint(2, 60)
    year = day.year
    if column == "tzgg":
        return rng.choice(_ZH_TZGG).format(y=year, n=n, m=day.month)
    if column == "xsdt":
        return rng.choice(_ZH_XSDT).format(
            topic=rng.choice(_ZH_TOPICS), place=rng.choice(_ZH_PLACES), n=n
        )
    subject = rng.choice(_ZH_SUBJECTS)
    first, second = rng.sample(_ZH_OBJECTS, 2)
    body = f"{subject}{rng.choice(_ZH_VERBS)}{year}年{first}"
    if column == "mtdd":
        return f"【{rng.choice(ZH_MEDIA)}】{body}"
    if rng.random() < 0.45:
        body = f"{body}暨第{n}届{second}"
    return rng.choice(_ZH_TITLE_PREFIXES) + body


def en_title(rng: random.Random, day: dt.date) -> str:
    """An English headline (may contain ``&``)."""
    return rng.choice(_EN_TITLES).format(
        y=day.year,
        n=rng.randint(2, 60),
        obj_t=rng.choice(_EN_OBJ_T),
        topic_t=rng.choice(_EN_TOPICS_T),
        culture_t=rng.choice(_EN_CULTURE_T),
        subj_t=rng.choice(_EN_SUBJ_T),
    )


def _zh_sentence(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return (
            f"{rng.choice(_ZH_SUBJECTS)}在{rng.choice(_ZH_PLACES)}{rng.choice(_ZH_VERBS)}"
            f"{rng.choice(_ZH_OBJECTS)}，{rng.choice(_ZH_CLAUSES)}。"
        )
    if kind == 1:
        return (
            f"来自全国{rng.randint(3, 90)}所高校的{rng.randint(50, 900)}余名师生参加了"
            f"{rng.choice(_ZH_OBJECTS)}。"
        )
    if kind == 2:
        return (
            f"{rng.choice(ZH_NAMES)}指出，要以{rng.choice(_ZH_OBJECTS)}为抓手，"
            f"{rng.choice(_ZH_CLAUSES)}。"
        )
    return (
        f"近{rng.randint(2, 12)}年来，{rng.choice(_ZH_SUBJECTS)}累计{rng.choice(_ZH_VERBS)}"
        f"{rng.choice(_ZH_OBJECTS)}{rng.randint(2, 300)}项，{rng.choice(_ZH_CLAUSES)}。"
    )


def _en_sentence(rng: random.Random) -> str:
    kind = rng.randrange(3)
    clause = rng.choice(_EN_CLAUSES).format(n=rng.randint(20, 900), m=rng.randint(2, 18))
    if kind == 0:
        subject, verb = rng.choice(_EN_SUBJECTS), rng.choice(_EN_VERBS)
        return f"{subject} {verb} {rng.choice(_EN_OBJECTS)}, {clause}."
    if kind == 1:
        return (
            f"More than {rng.randint(20, 900)} teachers and students from "
            f"{rng.randint(3, 60)} universities took part in {rng.choice(_EN_OBJECTS)}."
        )
    return (
        f"{rng.choice(LATIN_NAMES)} said that {rng.choice(_EN_OBJECTS)} was a good chance "
        f"to learn from each other, {clause}."
    )


def _other_date(rng: random.Random, avoid: dt.date) -> dt.date:
    while True:
        day = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(4200))
        if day != avoid:
            return day


def paragraphs(
    seed: int, language: str, date: dt.date, *, cn_date: bool, iso_date: bool
) -> list[str]:
    """3-8 body paragraphs; optionally one with a 年月日 date and one with a bare ISO date.

    Both embedded dates differ from *date* (the article's own date), so a crawler that takes
    the date from the body gets it wrong.
    """
    rng = random.Random(seed)
    count = rng.randint(3, 8)
    sentence = _zh_sentence if language == "zh" else _en_sentence
    joiner = "" if language == "zh" else " "
    out: list[str] = []
    for _ in range(count):
        size = rng.randint(6, 12) if rng.random() < 0.25 else rng.randint(1, 4)
        out.append(joiner.join(sentence(rng) for _ in range(size)))
    if cn_date:
        day = _other_date(rng, date)
        if language == "zh":
            trap = (
                f"据悉，该活动于{day.year}年{day.month:02d}月{day.day:02d}日在"
                f"{rng.choice(_ZH_PLACES)}正式启动。"
            )
        else:
            trap = (
                f"The event was first launched on {EN_MONTHS[day.month]} {day.day}, {day.year}, "
                f"and has been held every year since."
            )
        out.insert(rng.randint(1, len(out)), trap)
    if iso_date:
        day = _other_date(rng, date)
        if language == "zh":
            trap = f"报名截止时间为{day.isoformat()}，逾期不再受理。"
        else:
            trap = f"Applications close on {day.isoformat()}; late entries will not be accepted."
        out.insert(rng.randint(1, len(out)), trap)
    return out


def names(rng: random.Random, language: str, count: int) -> list[str]:
    """*count* distinct people; Chinese sites mix Chinese and Latin names."""
    pool = list(LATIN_NAMES) if language == "en" or rng.random() < 0.3 else list(ZH_NAMES)
    return rng.sample(pool, count)


def file_name(rng: random.Random, language: str, year: int) -> tuple[str, str]:
    """(display name, extension) of an attachment."""
    ext = rng.choice(("pdf", "docx", "xlsx"))
    if language == "zh":
        stem = rng.choice(_FILE_STEMS_ZH)
        if rng.random() < 0.5:
            stem = f"{year}年{stem}"
    else:
        stem = f"{rng.choice(_FILE_STEMS_EN)}-{year}"
    return f"{stem}.{ext}", ext
