/**
 * Names for the realistic mix: as a person writes them in their own script, and as clerks and
 * forms write them in Latin letters. The Latin spellings are the ones people use (Sergey, Yulia,
 * Mohammed, Giorgos), not a transliteration library's output: matching must bridge the two.
 */

export type Script = 'cyrillic' | 'greek' | 'chinese' | 'japanese' | 'korean' | 'arabic';

/** A name part in its own script and its Latin spellings, the usual one first. */
export interface Part {
  own: string;
  latin: readonly string[];
}

export interface ScriptNames {
  script: Script;
  /** Written family name first, without a space (张伟, 田中健, 김민준). */
  familyFirst: boolean;
  male: readonly Part[];
  female: readonly Part[];
  /** Family names, with the female form where the language has one (Петров, Петрова). */
  families: readonly { male: Part; female: Part }[];
}

const parts = (list: [string, ...string[]][]): Part[] => list.map(([own, ...latin]) => ({ own, latin }));
const gendered = (male: [string, ...string[]], female: [string, ...string[]]) => {
  const [m, f] = parts([male, female]) as [Part, Part];
  return { male: m, female: f };
};
const same = (list: [string, ...string[]][]) => parts(list).map((p) => ({ male: p, female: p }));

/** Russian (and one Ukrainian) family names in -ov, -ev, -in take -a for women, in both alphabets. */
const slavic = (list: [string, ...string[]][]) =>
  parts(list).map((male) =>
    /(ов|ев|ёв|ин)$/.test(male.own)
      ? { male, female: { own: `${male.own}а`, latin: male.latin.map((l) => `${l}a`) } }
      : { male, female: male },
  );

export const SCRIPTS: readonly ScriptNames[] = [
  {
    script: 'cyrillic',
    familyFirst: false,
    male: parts([
      ['Иван', 'Ivan'],
      ['Сергей', 'Sergey', 'Sergei'],
      ['Дмитрий', 'Dmitry', 'Dmitri', 'Dmitriy'],
      ['Алексей', 'Alexey', 'Aleksei', 'Alexei'],
      ['Андрей', 'Andrey', 'Andrei'],
      ['Михаил', 'Mikhail', 'Michael'],
      ['Евгений', 'Evgeny', 'Yevgeny', 'Eugene'],
      ['Олександр', 'Oleksandr', 'Alexander'],
      ['Николай', 'Nikolai', 'Nikolay'],
    ]),
    female: parts([
      ['Юлия', 'Yulia', 'Julia', 'Yuliya'],
      ['Наталья', 'Natalya', 'Natalia'],
      ['Екатерина', 'Ekaterina', 'Yekaterina'],
      ['Ольга', 'Olga'],
      ['Татьяна', 'Tatiana', 'Tatyana'],
      ['Анастасия', 'Anastasia', 'Anastasiya'],
      ['Ксения', 'Ksenia', 'Kseniya', 'Xenia'],
      ['Ирина', 'Irina'],
    ]),
    families: slavic([
      ['Петров', 'Petrov'],
      ['Смирнов', 'Smirnov'],
      ['Иванов', 'Ivanov'],
      ['Кузнецов', 'Kuznetsov'],
      ['Попов', 'Popov'],
      ['Соколов', 'Sokolov'],
      ['Волков', 'Volkov'],
      ['Морозов', 'Morozov'],
      ['Лебедев', 'Lebedev'],
      ['Новиков', 'Novikov'],
      ['Фёдоров', 'Fedorov', 'Fyodorov'],
      ['Васильев', 'Vasiliev', 'Vasilyev'],
      ['Соловьёв', 'Solovyov', 'Soloviev'],
      ['Шевченко', 'Shevchenko'],
      ['Путилин', 'Putilin'],
    ]),
  },
  {
    script: 'greek',
    familyFirst: false,
    male: parts([
      ['Γιώργος', 'Giorgos', 'Yiorgos', 'George'],
      ['Δημήτρης', 'Dimitris', 'Dimitrios'],
      ['Νίκος', 'Nikos', 'Nick'],
      ['Κώστας', 'Kostas', 'Costas'],
      ['Γιάννης', 'Giannis', 'Yiannis', 'John'],
      ['Παναγιώτης', 'Panagiotis', 'Panayiotis'],
    ]),
    female: parts([
      ['Μαρία', 'Maria'],
      ['Ελένη', 'Eleni', 'Helen'],
      ['Σοφία', 'Sofia', 'Sophia'],
      ['Κατερίνα', 'Katerina'],
      ['Δέσποινα', 'Despina'],
    ]),
    families: [
      gendered(['Παπαδόπουλος', 'Papadopoulos'], ['Παπαδοπούλου', 'Papadopoulou']),
      gendered(['Παπαδάκης', 'Papadakis'], ['Παπαδάκη', 'Papadaki']),
      ...same([
        ['Οικονόμου', 'Oikonomou', 'Economou'],
        ['Γεωργίου', 'Georgiou'],
        ['Κωνσταντίνου', 'Konstantinou', 'Constantinou'],
        ['Αλεξίου', 'Alexiou'],
        ['Νικολάου', 'Nikolaou', 'Nicolaou'],
        ['Βασιλείου', 'Vasileiou', 'Vassiliou'],
        ['Ιωάννου', 'Ioannou'],
      ]),
    ],
  },
  {
    script: 'chinese',
    familyFirst: true,
    male: parts([
      ['伟', 'Wei'],
      ['洋', 'Yang'],
      ['磊', 'Lei'],
      ['杰', 'Jie'],
      ['明', 'Ming'],
      ['强', 'Qiang'],
      ['军', 'Jun'],
      ['浩', 'Hao'],
    ]),
    female: parts([
      ['芳', 'Fang'],
      ['娜', 'Na'],
      ['静', 'Jing'],
      ['敏', 'Min'],
      ['丽', 'Li'],
      ['秀英', 'Xiuying', 'Xiu Ying'],
      ['婷', 'Ting'],
    ]),
    families: same([
      ['张', 'Zhang', 'Chang'],
      ['王', 'Wang'],
      ['李', 'Li', 'Lee'],
      ['刘', 'Liu'],
      ['陈', 'Chen', 'Chan'],
      ['杨', 'Yang'],
      ['黄', 'Huang', 'Wong'],
      ['赵', 'Zhao'],
      ['周', 'Zhou', 'Chow'],
      ['吴', 'Wu'],
      ['徐', 'Xu'],
      ['孙', 'Sun'],
      ['马', 'Ma'],
      ['朱', 'Zhu'],
    ]),
  },
  {
    script: 'japanese',
    familyFirst: true,
    male: parts([
      ['健', 'Ken'],
      ['大輔', 'Daisuke'],
      ['翔', 'Sho', 'Shou'],
      ['拓也', 'Takuya'],
      ['直樹', 'Naoki'],
    ]),
    female: parts([
      ['美咲', 'Misaki'],
      ['陽子', 'Yoko', 'Youko'],
      ['由美', 'Yumi'],
      ['恵', 'Megumi'],
      ['愛', 'Ai'],
    ]),
    families: same([
      ['田中', 'Tanaka'],
      ['佐藤', 'Sato', 'Satou'],
      ['鈴木', 'Suzuki'],
      ['高橋', 'Takahashi'],
      ['渡辺', 'Watanabe'],
      ['伊藤', 'Ito', 'Itou'],
      ['山本', 'Yamamoto'],
      ['中村', 'Nakamura'],
      ['小林', 'Kobayashi'],
      ['加藤', 'Kato', 'Katou'],
    ]),
  },
  {
    script: 'korean',
    familyFirst: true,
    male: parts([
      ['민준', 'Min-jun', 'Minjun', 'Min Jun'],
      ['지훈', 'Ji-hoon', 'Jihoon', 'Ji Hun'],
      ['도윤', 'Do-yun', 'Doyun'],
      ['예준', 'Ye-jun', 'Yejun'],
      ['서준', 'Seo-jun', 'Seojun'],
    ]),
    female: parts([
      ['서연', 'Seo-yeon', 'Seoyeon'],
      ['수아', 'Su-a', 'Sua'],
      ['하은', 'Ha-eun', 'Haeun'],
      ['지우', 'Ji-woo', 'Jiwoo'],
    ]),
    families: same([
      ['김', 'Kim'],
      ['이', 'Lee', 'Yi', 'Rhee'],
      ['박', 'Park', 'Pak'],
      ['최', 'Choi', 'Choe'],
      ['정', 'Jung', 'Jeong', 'Chung'],
      ['강', 'Kang'],
      ['조', 'Cho', 'Jo'],
      ['윤', 'Yoon', 'Yun'],
      ['장', 'Jang', 'Chang'],
      ['임', 'Lim', 'Im'],
    ]),
  },
  {
    script: 'arabic',
    familyFirst: false,
    male: parts([
      ['محمد', 'Mohammed', 'Muhammad', 'Mohamed'],
      ['أحمد', 'Ahmed', 'Ahmad'],
      ['عمر', 'Omar', 'Umar'],
      ['يوسف', 'Youssef', 'Yusuf', 'Yousef'],
      ['خالد', 'Khalid', 'Khaled'],
      ['علي', 'Ali'],
      ['حسن', 'Hassan', 'Hasan'],
    ]),
    female: parts([
      ['فاطمة', 'Fatima', 'Fatma'],
      ['ليلى', 'Layla', 'Leila', 'Laila'],
      ['مريم', 'Mariam', 'Maryam'],
      ['عائشة', 'Aisha', 'Aysha'],
      ['نور', 'Nour', 'Noor'],
      ['سارة', 'Sara', 'Sarah'],
    ]),
    families: same([
      ['علي', 'Ali'],
      ['حسن', 'Hassan', 'Hasan'],
      ['حسين', 'Hussein', 'Hussain', 'Husain'],
      ['خالد', 'Khalid', 'Khaled'],
      ['إبراهيم', 'Ibrahim'],
      ['عبد الله', 'Abdullah', 'Abdallah'],
      ['سالم', 'Salem', 'Salim'],
      ['منصور', 'Mansour', 'Mansoor'],
      ['الشمري', 'Al-Shammari', 'Alshammari'],
      ['العتيبي', 'Al-Otaibi', 'Alotaibi'],
    ]),
  },
];

/** Countries' mobile numbers, for people whose phone is not British: prefix and digits after it. */
export const MOBILES: Record<Script, [string, number]> = {
  cyrillic: ['+79', 9],
  greek: ['+3069', 8],
  chinese: ['+86139', 8],
  japanese: ['+8190', 8],
  korean: ['+8210', 8],
  arabic: ['+97150', 7],
};

/** Name parts with letters English keyboards lack: written so in one source, plainly or transcribed in another. */
export const ACCENTED_GIVEN: readonly Part[] = parts([
  ['José', 'Jose'],
  ['François', 'Francois'],
  ['Jürgen', 'Jurgen', 'Juergen'],
  ['Björn', 'Bjorn', 'Bjoern'],
  ['Søren', 'Soren', 'Soeren'],
  ['Łukasz', 'Lukasz'],
  ['Renée', 'Renee'],
  ['Ángel', 'Angel'],
  ['Günther', 'Gunther', 'Guenther'],
  ['Çağrı', 'Cagri'],
  ['Antonín', 'Antonin'],
  ['Mónica', 'Monica'],
  ['Zoë', 'Zoe'],
  ['Chloé', 'Chloe'],
  ['Håkon', 'Hakon', 'Haakon'],
  ['Inès', 'Ines'],
  ['Andrés', 'Andres'],
  ['Jörg', 'Jorg', 'Joerg'],
]);
export const ACCENTED_FAMILY: readonly Part[] = parts([
  ['García', 'Garcia'],
  ['Lefèvre', 'Lefevre'],
  ['Müller', 'Muller', 'Mueller'],
  ['Åström', 'Astrom', 'Aastrom'],
  ['Jørgensen', 'Jorgensen', 'Joergensen'],
  ['Wójcik', 'Wojcik'],
  ['Muñoz', 'Munoz'],
  ['Weiß', 'Weiss'],
  ['Öztürk', 'Ozturk', 'Oeztuerk'],
  ['Dvořák', 'Dvorak'],
  ['Pérez', 'Perez'],
  ['Ødegård', 'Odegard', 'Oedegaard'],
  ['Brontë', 'Bronte'],
  ['Schröder', 'Schroder', 'Schroeder'],
  ['Núñez', 'Nunez'],
  ['Gößling', 'Gossling', 'Goessling'],
  ['Côté', 'Cote'],
  ['Fernández', 'Fernandez'],
]);

/** Given names of the households, with the nicknames their records may carry. */
export const HOUSEHOLD_GIVEN: readonly [string, readonly string[]][] = [
  ['Robert', ['Bob', 'Rob']],
  ['Margaret', ['Peggy', 'Maggie']],
  ['William', ['Bill', 'Will']],
  ['Elizabeth', ['Liz', 'Beth']],
  ['James', ['Jim']],
  ['Katherine', ['Kate']],
  ['Michael', ['Mike']],
  ['Patricia', ['Pat']],
  ['Richard', ['Rick']],
  ['Jennifer', ['Jen']],
  ['Susan', ['Sue']],
  ['Anthony', ['Tony']],
  ['Rebecca', ['Becky']],
  ['Edward', ['Ed', 'Ted']],
  ['Victoria', ['Vicky']],
  ['Olivia', []],
  ['Noah', []],
  ['Amelia', []],
  ['Oliver', []],
  ['Isla', []],
  ['George', []],
  ['Grace', []],
  ['Harry', []],
  ['Ruby', []],
  ['Arthur', []],
  ['Freya', []],
];

/** Couples whose given names share a nickname: both are "Sam" (or "Alex", "Chris") in some records. */
export const SHARED_NICKNAME: readonly [string, string, string][] = [
  ['Samuel', 'Samantha', 'Sam'],
  ['Alexander', 'Alexandra', 'Alex'],
  ['Christopher', 'Christine', 'Chris'],
  ['Daniel', 'Danielle', 'Dan'],
  ['Nicholas', 'Nicola', 'Nicky'],
  ['Frederick', 'Frederica', 'Freddie'],
];

/** Twins' given names, as parents choose them: often alike. */
export const TWIN_NAMES: readonly [string, string][] = [
  ['Emma', 'Ella'],
  ['Jacob', 'Joshua'],
  ['Lily', 'Lucy'],
  ['Ethan', 'Evan'],
  ['Anna', 'Hannah'],
  ['Aiden', 'Jayden'],
  ['Mason', 'Madison'],
  ['Jack', 'James'],
  ['Amy', 'Abby'],
  ['Mark', 'Matthew'],
  ['Molly', 'Polly'],
  ['Tom', 'Tim'],
];

/** Fathers who pass their given name on, with the nicknames either may go by. */
export const JUNIOR_GIVEN: readonly [string, readonly string[]][] = [
  ['John', ['Jack', 'Johnny']],
  ['Robert', ['Bob', 'Rob']],
  ['James', ['Jim', 'Jimmy']],
  ['William', ['Bill', 'Will']],
  ['Richard', ['Rick', 'Dick']],
  ['Thomas', ['Tom']],
  ['Charles', ['Charlie']],
  ['Michael', ['Mike']],
  ['David', ['Dave']],
  ['Edward', ['Ed', 'Ted']],
  ['George', []],
  ['Joseph', ['Joe']],
];

export const FAMILY_NAMES: readonly string[] = [
  'Smith',
  'Jones',
  'Taylor',
  'Brown',
  'Walker',
  'Wright',
  'Hughes',
  'Green',
  'Hall',
  'Wood',
  'Clarke',
  'Turner',
  'Hill',
  'Cooper',
  'Ward',
  'Morris',
  'Baker',
  'Harris',
  'Parker',
  'Bennett',
];
